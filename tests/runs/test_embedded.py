"""Embedded mode end to end: `manage.py serve` (SQLite, the in-process Celery worker thread and the
relay hop onto the server loop) runs a crew that asks a person; the browser side is HTTP + a
websocket with the session cookie, as the run page uses them. The studio is the `served` fixture
(tests/plugins/processes.py): alice and her crew "Ask me"."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from tests.factories import PASSWORD
from tests.plugins.processes import csrf_field

pytestmark = pytest.mark.slow


def receive_until(socket, pattern: str, frames: list[str]) -> str:
    """Read frames (kept in `frames`) until a new one matches `pattern`; returns it."""
    while True:
        frames.append(socket.recv(timeout=15))
        if re.search(pattern, frames[-1]):
            return frames[-1]


def test_embedded_mode_runs_a_crew_with_a_person_in_the_loop(served):
    base, port = served.url, served.port
    with httpx.Client(base_url=base, timeout=10) as http:
        login = http.get("/accounts/login/").text
        logged_in = http.post("/accounts/login/", data={"csrfmiddlewaretoken": csrf_field(login), "username": "alice",
                                                        "password": PASSWORD})
        assert logged_in.status_code == 302, logged_in.text[:300]
        headers = {"X-CSRFToken": http.cookies["csrftoken"], "Accept": "application/json"}
        started = http.post(f"/runs/start/{served.crews['ask']}/", data={"task": "Plan a picnic."}, headers=headers)
        assert started.status_code == 201, started.text[:300]
        run_id = started.json()["run"]
        cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())

        frames: list[str] = []
        with ws_connect(f"ws://127.0.0.1:{port}/ws/runs/{run_id}/", origin=base,
                        additional_headers={"Cookie": cookie}, open_timeout=5) as socket:
            socket.send(json.dumps({"type": "resume", "last_seq": 0}))
            answered: list[str] = []
            for action, answer in (("reply", "Bring lemonade."), ("end", "")):
                # The status and the question may come in separate frames, and replays repeat
                # them: wait for a question not answered yet.
                while True:
                    waiting = receive_until(socket, r'data-request="[0-9a-f-]+"', frames)
                    question = re.search(r'data-request="([0-9a-f-]+)"', waiting).group(1)
                    if question not in answered:
                        answered.append(question)
                        break
                replied = http.post(f"/runs/{run_id}/questions/{question}/reply/",
                                    data={"action": action, "answer": answer}, headers=headers)
                assert replied.status_code == 200, replied.text
            receive_until(socket, r'data-status="completed"', frames)

        page = http.get(f"/runs/{run_id}/").text

    seqs = [int(s) for frame in frames for s in re.findall(r'data-seq="(\d+)"', frame)]
    assert seqs == [1, 2, 3, 4]
    assert "Bring lemonade." in "".join(frames) and page.count('data-seq="') == 4
    assert "Done" in page
