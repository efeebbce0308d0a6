"""Embedded mode end to end: `manage.py serve` is web server, Celery worker and relay in one process.

Path under test: sign-up over HTTP -> websocket with the session cookie -> POST "Check the
worker" -> in-memory broker -> in-process worker thread -> relay hop onto the server loop ->
InMemoryChannelLayer -> SystemConsumer -> the rendered fragment on the socket.
"""

from __future__ import annotations

import re
import signal
from typing import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tests.plugins.processes import ServedStudio, csrf_field

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded_server(tmp_path) -> Iterator[ServedStudio]:
    """`manage.py serve` with embedded defaults and no account yet; stopped by PID at the end."""
    studio = ServedStudio(tmp_path)
    studio.manage("migrate", "--noinput", "-v", "0")
    with studio.serving():
        yield studio


def test_embedded_worker_answers_over_the_websocket(embedded_server):
    base_url, port = embedded_server.url, embedded_server.port
    assert f"No account yet: open {base_url}/accounts/signup/" in embedded_server.log()

    with httpx.Client(base_url=base_url, timeout=10) as http:
        signup_form = http.get("/accounts/signup/").text
        signed_up = http.post(
            "/accounts/signup/",
            data={
                "csrfmiddlewaretoken": csrf_field(signup_form),
                "username": "alice",
                "email": "alice@example.test",
                "password1": "correct-horse-battery-staple-42",
                "password2": "correct-horse-battery-staple-42",
            },
        )
        assert signed_up.status_code == 302 and signed_up.headers["location"] == "/", signed_up.text[:500]
        assert "alice&#x27;s workspace" in http.get("/").text
        cookie_header = "; ".join(f"{name}={value}" for name, value in http.cookies.items())

        # Without a session the socket is accepted, then closed with 4401.
        with ws_connect(f"ws://127.0.0.1:{port}/ws/system/", origin=base_url, open_timeout=5) as anonymous:
            with pytest.raises(ConnectionClosed) as closed:
                anonymous.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

        with ws_connect(
            f"ws://127.0.0.1:{port}/ws/system/",
            origin=base_url,
            additional_headers={"Cookie": cookie_header},
            open_timeout=5,
        ) as socket_:
            checked = http.post(
                "/system/worker-check/",
                headers={"X-CSRFToken": http.cookies["csrftoken"], "HX-Request": "true"},
            )
            assert checked.status_code == 200 and 'id="worker-request"' in checked.text
            fragment = socket_.recv(timeout=10)

    assert fragment.strip().startswith('<div id="worker-answer"')
    answer = re.search(r"Worker <strong>(embedded@[^<]+)</strong> answered in (\d+) ms", fragment)
    assert answer is not None, fragment
    assert int(answer.group(2)) < 10_000

    # SIGTERM: uvicorn drains, then the worker thread stops and the command says so.
    process = embedded_server.process
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert "Parley stopped." in embedded_server.log()
