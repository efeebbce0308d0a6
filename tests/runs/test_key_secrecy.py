"""A model's API key is used by runs and readable by nobody: a provider that quotes the rejected key
in its error does not put it on the run, its page, or a share link."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from studio.runs import services, sharing
from studio.runs.models import Run, RunStatus
from tests.runs.support import execute_here, fake_llm_crew, workspace_of
from tests.studio.crews_support import SECRET

pytestmark = pytest.mark.django_db


def test_a_failure_that_quotes_the_key_is_shown_without_it(alice, fake_llm):
    fake_llm.fail(401, message=f"Incorrect API key provided: {SECRET}. Check it and try again.")
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm), user=alice, dispatch=False)

    assert execute_here(run) == RunStatus.FAILED
    run = Run.objects.get(pk=run.pk)
    assert "Incorrect API key provided: ••••. Check it and try again." in run.error
    assert SECRET not in run.error

    member = Client()
    member.force_login(alice)
    link = sharing.create_share(run, alice)
    for page in (member.get(reverse("runs:detail", args=[run.public_id])),
                 Client().get(reverse("runs:shared", args=[link.token]))):
        assert page.status_code == 200 and "Incorrect API key provided: ••••" in page.content.decode()
        assert SECRET not in page.content.decode()
