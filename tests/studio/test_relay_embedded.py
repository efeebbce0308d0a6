"""Embedded mode end to end: `manage.py serve` is web server, Celery worker and relay in one process.

Path under test: sign-up over HTTP -> websocket with the session cookie -> POST "Check the
worker" -> in-memory broker -> in-process worker thread -> relay hop onto the server loop ->
InMemoryChannelLayer -> SystemConsumer -> the rendered fragment on the socket.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PARLEY_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "FIELD_ENCRYPTION_KEYS",
    "PARLEY_HTTPS",
    "DEBUG",
    "DJANGO_SETTINGS_MODULE",
)
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def embedded_server(tmp_path):
    """`manage.py serve` on a free port with embedded defaults; stopped by PID at the end."""
    env = {key: value for key, value in os.environ.items() if key not in PARLEY_VARIABLES}
    env.update(PARLEY_DATA_DIR=str(tmp_path), PARLEY_WORKER_CONCURRENCY="2")
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr

    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--log-level", "warning"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base_url, process, log_path)
        yield {"url": base_url, "port": port, "process": process, "log": log_path}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def wait_until_serving(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/accounts/login/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"serve did not answer within {START_TIMEOUT:.0f} s:\n{log_path.read_text()[-3000:]}")


def csrf_field(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def test_embedded_worker_answers_over_the_websocket(embedded_server):
    base_url, port = embedded_server["url"], embedded_server["port"]
    assert f"No account yet: open {base_url}/accounts/signup/" in embedded_server["log"].read_text()

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
    process = embedded_server["process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert "Parley stopped." in embedded_server["log"].read_text()
