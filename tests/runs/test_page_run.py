"""The run page through Django's test client: the transcript rendered safely (markdown, highlighted
code, code paired with its output), the status line, the usage chart, the header actions, the
panel refresh, and the fragments the websocket sends. Runs are executed by the worker's step loop
(workers.runloop.execute) against Replay models and the fake LLM server."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from studio.crews import services as crews
from studio.runs import markup, rendering, services
from studio.runs.models import Message, Run, RunStatus
from tests.factories import UserFactory, WorkspaceFactory, add_member
from tests.runs.support import counting_reply, execute_here, fake_llm_crew, human_crew, make_agent, replay_model, workspace_of

pytestmark = pytest.mark.django_db(transaction=True)

XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


class ActiveContent(HTMLParser):
    """Collects what a browser would execute or fetch: script elements, event-handler attributes,
    javascript: URLs, and images."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not (names.get("src") or "").startswith("/static/"):
            self.found.append(f"<script> {names}")
        if tag in ("img", "iframe", "object", "embed"):
            self.found.append(f"<{tag}> {names}")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}={value!r}")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{tag} {name}={value!r}")


def active_content(html: str) -> list[str]:
    parser = ActiveContent()
    parser.feed(html)
    return parser.found


def page_of(user, run: Run) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("runs:detail", args=[run.public_id]))
    assert response.status_code == 200
    return response.content.decode()


def coder_crew(workspace, user, *, reply: str, name: str = "Coder"):
    """runner (local code execution) ↔ coder on a Replay model that sends `reply`, then ends."""
    model = replay_model(workspace, user, name=f"{name} replay", replies=[reply],
                         rules=[{"when": "exitcode: 0", "reply": "It printed 42. TERMINATE"}])
    coder = make_agent(workspace, user, name="coder", model=model, system_message="You code.")
    runner = make_agent(workspace, user, name="runner", kind="user_proxy", human_input_mode="NEVER",
                        code_execution="local", max_consecutive_auto_reply=3, termination_rule="ends_with")
    return crews.create_crew(workspace, user=user, name=name, kind="two_agent", initiator=runner, recipient=coder,
                             task="What is six times seven?")


def test_the_transcript_renders_markdown_highlights_code_and_pairs_it_with_its_output(alice):
    reply = "Here is **the plan**:\n\n1. multiply\n2. print\n\n```python\nprint(6 * 7)\n```"
    run = services.start_run(coder_crew(workspace_of(alice), alice, reply=reply), user=alice)
    assert execute_here(run) == RunStatus.COMPLETED

    html = page_of(alice, run)
    assert "<strong>the plan</strong>" in html and "<ol>\n<li>multiply</li>" in html
    assert '<code class="language-python"><span class="nb">print</span><span class="p">(</span>' in html
    code = html.index('data-kind="code"')
    output = html.index('data-kind="code_output"')
    assert code < output  # the output follows its code block
    assert re.search(r'class="code-output">\s*<p class="code-output-head small">Output of the code above · exit code 0',
                     html)
    assert "css/pygments.css" in html and "js/run.js" in html
    assert html.count('data-seq="') == 4 and active_content(html) == []


def test_everything_people_and_models_wrote_is_escaped_or_sanitised(alice, settings):
    ws = workspace_of(alice)
    crew = human_crew(ws, alice, name=f"Crew {XSS}", replies=[f"Model says {XSS} and [click](javascript:alert(1))"],
                      task=f"Task {XSS}")
    run = services.start_run(crew, user=alice)
    assert execute_here(run) == RunStatus.AWAITING_INPUT
    question = services.open_request(Run.objects.get(pk=run.pk))
    assert services.reply_to_request(question, user=alice, action="reply", text=f"Person says {XSS}").accepted
    assert execute_here(run) == RunStatus.AWAITING_INPUT
    # Names an engine could never produce, stored anyway: the templates must not trust any field.
    Message.objects.create(run=run, seq=99, sender=f"x{XSS}", recipients=[XSS], content=XSS, kind="code_output",
                           payload={"code_result": {"exit_code": XSS}})
    Message.objects.create(run=run, seq=100, sender="", kind="speaker_selection", content="",
                           payload={"speaker": XSS, "method": "auto"})
    run.refresh_from_db()

    html = page_of(alice, run)
    assert active_content(html) == [], active_content(html)
    assert "window.__pwned" in html  # shown as text...
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html  # ...escaped
    assert "javascript:" not in html.replace("[click](javascript:alert(1))", "")
    listing = Client()
    listing.force_login(alice)
    runs_page = listing.get(reverse("runs:list")).content.decode()
    assert active_content(runs_page) == [] and "Crew &lt;script&gt;" in runs_page
    frames = (rendering.messages_frame(Message.objects.filter(run=run).select_related("author"))
              + rendering.tokens_frame(XSS, XSS) + rendering.notice_frame(XSS, False)
              + rendering.status_frame(Run.objects.get(pk=run.pk), services.open_request(run), True))
    assert active_content(frames) == [], active_content(frames)


def test_markdown_keeps_only_safe_markup():
    rendered = str(markup.markdown_html(
        "[a](javascript:alert(1)) [b](https://example.com) ![c](https://tracker.example/p.png)\n\n"
        '```python" onmouseover="alert(1)\nx = 1\n```\n\n<b onclick="x()">raw</b>'
    ))
    assert active_content(rendered) == []
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">b</a>' in rendered
    assert "<img" not in rendered and 'href="https://tracker.example/p.png"' in rendered  # a link, not a load
    assert "&lt;b onclick" in rendered and "language-python&quot;" not in rendered
    assert markup.highlight("x = 1", "no-such-language") == ""


def test_the_stylesheet_is_generated_from_pygments():
    path = Path(__file__).resolve().parents[2] / "static" / "css" / "pygments.css"
    assert path.read_text() == markup.stylesheet(), "regenerate: python -m studio.runs.markup > static/css/pygments.css"
    assert all(line.startswith((".run-md pre", "/*")) for line in path.read_text().splitlines() if line)


def test_the_status_line_shows_rounds_and_the_auto_selection_and_the_chart_shows_usage(alice):
    ws = workspace_of(alice)
    chooser = replay_model(ws, alice, name="Chooser", replies=["ben"], when_exhausted="repeat_last")
    talker = replay_model(ws, alice, name="Talker", replies=["Noted."], when_exhausted="repeat_last")
    members = [make_agent(ws, alice, name=name, model=talker, system_message="You report.",
                          description=f"{name} reports.") for name in ("ann", "ben", "cat")]
    crew = crews.create_crew(ws, user=alice, name="Auto", kind="group", members=members, max_round=3,
                             speaker_selection="auto", allow_repeat_speaker=False, manager_model=chooser,
                             task="Report in.")
    run = services.start_run(crew, user=alice)
    assert execute_here(run) == RunStatus.COMPLETED
    run.refresh_from_db()

    html = page_of(alice, run)
    assert re.search(r'round <span data-round="\d">\d</span> / 3', html)
    assert "The manager's model chose <strong class=\"sender\">ben</strong> to speak next" in html
    assert rendering.latest_selection(run) == {"speaker": "cat", "method": "auto", "label": "the manager's model chose"}
    rows = {row.agent: row for row in rendering.usage_rows(run)}
    assert {"ben", "cat", "speaker_selection_agent"} <= set(rows) and rows["ben"].calls == 1
    biggest = max(rows.values(), key=lambda row: row.total_tokens)
    assert biggest.prompt_pct + biggest.completion_pct == pytest.approx(100.0, abs=0.2)
    assert f'data-agent="{biggest.agent}" data-tokens="{biggest.total_tokens}"' in html

    running = Run.objects.get(pk=run.pk)
    running.status = RunStatus.RUNNING  # what a viewer sees mid-run: the newest selection
    assert "Last speaker selection: <strong>cat</strong> (the manager&#x27;s model chose)" in \
        rendering.panel_frame(running, True)


def test_the_header_offers_stop_while_active_and_run_again_once_final(alice, bob, charlie):
    team = WorkspaceFactory()
    add_member(team, alice, "owner")
    add_member(team, charlie, "viewer")
    run = services.start_run(human_crew(team, alice), user=alice)
    execute_here(run)

    waiting = page_of(alice, run)
    assert 'hx-post="/runs/%s/cancel/"' % run.public_id in waiting and "Run again" not in waiting
    assert "Open crew" in waiting
    watcher = page_of(charlie, run)
    assert "/cancel/" not in watcher and "Only members with the runner role can answer." in watcher

    assert services.cancel_run(Run.objects.get(pk=run.pk), user=alice)
    done = page_of(alice, run)
    assert "/cancel/" not in done and "Run again" in done and "Stopped by alice." in done
    assert 'data-status="cancelled"' in done and "Cancelled" in done

    client = Client()
    client.force_login(alice)
    again = client.post(reverse("runs:start", args=[run.crew.public_id]), {"task": run.task}, HTTP_HX_REQUEST="true")
    newest = Run.objects.order_by("-id").first()
    assert again["HX-Redirect"] == reverse("runs:detail", args=[newest.public_id]) and newest.task == run.task

    run.crew.delete()
    orphan = page_of(alice, run)
    assert "Open crew" not in orphan and "Run again" not in orphan and run.crew_name in orphan


def test_the_panel_refresh_never_carries_the_question(alice):
    run = services.start_run(human_crew(workspace_of(alice), alice), user=alice)
    execute_here(run)
    client = Client()
    client.force_login(alice)

    panel = client.get(reverse("runs:panel", args=[run.public_id]), HTTP_HX_REQUEST="true").content.decode()
    assert 'id="run-status"' in panel and 'id="run-usage"' in panel and 'id="run-actions"' in panel
    assert panel.count('hx-swap-oob="true"') == 3 and "run-input" not in panel and "data-seq" not in panel
    outsider = Client()
    outsider.force_login(UserFactory(username="dave"))
    assert outsider.get(reverse("runs:panel", args=[run.public_id])).status_code == 404


def test_after_a_reply_everyone_sees_who_answered(alice, bob):
    team = WorkspaceFactory()
    add_member(team, alice, "owner")
    add_member(team, bob, "runner")
    run = services.start_run(human_crew(team, alice), user=alice)
    execute_here(run)
    question = services.open_request(Run.objects.get(pk=run.pk))
    assert services.reply_to_request(question, user=bob, action="continue").accepted

    frame = rendering.status_frame(Run.objects.get(pk=run.pk), None, True)
    assert "bob answered me's question with “continue”." in frame
    assert 'data-status="queued"' in frame and "data-request=" not in frame
    refused = services.reply_to_request(question, user=alice, action="end")
    assert not refused.accepted and refused.message == "Already answered by bob."


def test_message_fragments_need_no_database(alice, fake_llm, django_assert_num_queries):
    fake_llm.reply(counting_reply)
    run = services.start_run(fake_llm_crew(workspace_of(alice), alice, fake_llm, limit=1), user=alice)
    assert execute_here(run) == RunStatus.COMPLETED
    messages = list(Message.objects.filter(run=run).select_related("author").order_by("seq"))

    with django_assert_num_queries(0):  # the consumer renders these on its event loop
        html = rendering.messages_frame(messages) + rendering.tokens_frame("counter", "par")
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', html)] == [1, 2, 3, 4]
    assert "reply to 2 messages" in html and re.search(r"\d+ tokens</span> · \d+ ms", html)
    assert '<span class="run-stream-text" data-agent="counter">par</span>' in html
