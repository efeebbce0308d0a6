"""The gallery: loaded idempotently by `manage.py load_gallery`, copied into users' workspaces."""

from __future__ import annotations

import copy
import io
import json

import pytest
from django.core.management import call_command

from studio.accounts.models import Membership
from studio.crews.gallery import copy_gallery_crew, list_gallery, load_gallery
from studio.crews.gallery_seeds import SEEDS
from studio.crews.models import AgentDef, Crew, GalleryCrew
from studio.crews.snapshots import content, export_crew
from tests.studio.crews_support import workspace_of

pytestmark = pytest.mark.django_db


def test_load_gallery_command_is_idempotent():
    out = io.StringIO()
    call_command("load_gallery", stdout=out)
    assert out.getvalue().strip() == "Gallery: 4 crews (4 added, 0 updated, 0 unchanged, 0 removed)"
    ids = sorted(Crew.objects.values_list("public_id", flat=True))
    out = io.StringIO()
    call_command("load_gallery", stdout=out)
    assert out.getvalue().strip() == "Gallery: 4 crews (0 added, 0 updated, 4 unchanged, 0 removed)"
    assert sorted(Crew.objects.values_list("public_id", flat=True)) == ids
    entries = list(list_gallery())
    assert [e.crew.name for e in entries] == ["Demo (no API key)", "Two-agent coder", "Planner, coder and reviewer",
                                              "Researcher, coder and critic"]
    # Gallery workspaces have no members: nobody edits the originals.
    assert not Membership.objects.filter(workspace__in=[e.workspace for e in entries]).exists()
    for entry in entries:
        assert content(export_crew(entry.crew)) == SEEDS[entry.slug]


def test_changed_and_removed_seeds_are_refreshed():
    load_gallery()
    seeds = copy.deepcopy(SEEDS)
    seeds["two-agent-coder"]["crew"]["task"] = "A different task."
    del seeds["researcher-coder-critic"]
    report = load_gallery(seeds)
    assert (report.added, report.updated, report.removed) == ([], ["Two-agent coder"], ["Researcher, coder and critic"])
    assert GalleryCrew.objects.count() == 3
    assert GalleryCrew.objects.get(slug="two-agent-coder").crew.task == "A different task."
    assert not AgentDef.objects.filter(name="critic").exists()  # its workspace went with it


def test_copy_into_a_workspace(alice):
    load_gallery()
    result = copy_gallery_crew("planner-coder-reviewer", workspace_of(alice), user=alice)
    crew = result.crew
    assert crew.workspace == workspace_of(alice) and crew.name == "Planner, coder and reviewer"
    assert [a.name for a in crew.ordered_members()] == ["runner", "planner", "coder", "reviewer"]
    assert result.needs_key == ["GPT-4o mini"]
    again = copy_gallery_crew("two-agent-coder", workspace_of(alice), user=alice)
    assert "Used the existing model “GPT-4o mini” (identical)." in again.reused
    assert "Agent coder was imported as coder_2 (the name was taken)." in again.renamed
    assert "gAAAA" not in json.dumps(export_crew(crew))
    with pytest.raises(GalleryCrew.DoesNotExist):
        copy_gallery_crew("nope", workspace_of(alice), user=alice)
