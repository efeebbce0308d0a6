"""Settings from the environment, checked through real `manage.py` / uvicorn subprocesses.

Subprocesses because settings are read once per process; each case starts from a clean
environment (no inherited Parley variables) and its own PARLEY_DATA_DIR.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
PARLEY_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "FIELD_ENCRYPTION_KEYS",
    "PARLEY_DATA_DIR",
    "PARLEY_HTTPS",
    "PARLEY_SANDBOX_IMAGE",
    "PARLEY_WORKER_CONCURRENCY",
    "PARLEY_DB_POOL_SIZE",
    "DJANGO_SETTINGS_MODULE",
)
# Nothing listens on port 1: a well-formed PostgreSQL URL that cannot connect.
UNREACHABLE_POSTGRES = "postgres://parley:secret-pw@127.0.0.1:1/parley"


def clean_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in PARLEY_VARIABLES}
    env["PARLEY_DATA_DIR"] = str(data_dir)
    env.update(overrides)
    return env


def production_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    production = {
        "DATABASE_URL": UNREACHABLE_POSTGRES,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "parley.example.com",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    return clean_env(data_dir, **{**production, **overrides})


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def manage(*args: str) -> list[str]:
    return [PYTHON, "manage.py", *args]


def test_bad_input_fails_with_one_line_naming_the_variable(tmp_path):
    good_key = Fernet.generate_key().decode()
    cases = [
        # (label, command, environment, variable the line must name, text that must not leak)
        ("malformed DATABASE_URL", manage("check"), clean_env(tmp_path / "a", DATABASE_URL="foo://x"), "DATABASE_URL", None),
        (
            "unsupported database",
            manage("check"),
            clean_env(tmp_path / "b", DATABASE_URL="mysql://u:hunter2@db/parley"),
            "DATABASE_URL",
            "hunter2",
        ),
        ("postgres without a database name", manage("check"), clean_env(tmp_path / "c", DATABASE_URL="postgres://db:5432"), "DATABASE_URL", None),
        ("production without SECRET_KEY", manage("check"), production_env(tmp_path / "d", SECRET_KEY=""), "SECRET_KEY", None),
        (
            "production without FIELD_ENCRYPTION_KEYS",
            manage("check"),
            production_env(tmp_path / "e", FIELD_ENCRYPTION_KEYS=""),
            "FIELD_ENCRYPTION_KEYS",
            None,
        ),
        (
            "a non-Fernet key",
            manage("check"),
            production_env(tmp_path / "f", FIELD_ENCRYPTION_KEYS=f"{good_key},not-a-key-sekrit"),
            "FIELD_ENCRYPTION_KEYS entry 2",
            "sekrit",
        ),
        ("production without ALLOWED_HOSTS", manage("check"), production_env(tmp_path / "g", ALLOWED_HOSTS=""), "ALLOWED_HOSTS", None),
        ("malformed REDIS_URL", manage("check"), clean_env(tmp_path / "h", REDIS_URL="http://cache"), "REDIS_URL", None),
        ("bad DEBUG", manage("check"), clean_env(tmp_path / "i", DEBUG="maybe"), "DEBUG", None),
        (
            "bad PARLEY_WORKER_CONCURRENCY",
            manage("check"),
            clean_env(tmp_path / "j", PARLEY_WORKER_CONCURRENCY="0"),
            "PARLEY_WORKER_CONCURRENCY",
            None,
        ),
        (
            "bad PARLEY_DB_POOL_SIZE",
            manage("check"),
            production_env(tmp_path / "l", PARLEY_DB_POOL_SIZE="lots"),
            "PARLEY_DB_POOL_SIZE",
            None,
        ),
        (
            "ASGI import (uvicorn)",
            [PYTHON, "-m", "uvicorn", "studio.asgi:application", "--port", "1", "--lifespan", "off"],
            clean_env(tmp_path / "k", DATABASE_URL="foo://x"),
            "DATABASE_URL",
            None,
        ),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: run(case[1], case[2]), cases))

    for (label, _command, _env, variable, secret), result in zip(cases, results):
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, f"{label}: exit {result.returncode}, stderr:\n{result.stderr}"
        assert len(lines) == 1, f"{label}: expected one line, got:\n{result.stderr}"
        assert lines[0].startswith(f"Parley cannot start: {variable}"), f"{label}: {lines[0]}"
        assert "Traceback" not in result.stderr
        if secret:
            assert secret not in result.stderr, f"{label}: the secret leaked into {lines[0]}"


def test_unreachable_postgres_never_falls_back_to_sqlite(tmp_path):
    probe = "from django.db import connection; print(connection.vendor, flush=True); connection.ensure_connection()"
    result = run(manage("shell", "--no-imports", "-c", probe), production_env(tmp_path))
    assert result.returncode != 0
    assert result.stdout.strip() == "postgresql"
    assert "OperationalError" in result.stderr
    assert not list(tmp_path.glob("*.sqlite3")), "a SQLite database was created despite DATABASE_URL"


def test_check_deploy_is_clean_in_production(tmp_path):
    result = run(manage("check", "--deploy", "--fail-level", "WARNING"), production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_plain_http_opt_out_turns_the_https_settings_off(tmp_path):
    probe = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        on, off = pool.map(
            lambda env: run(manage("shell", "--no-imports", "-c", probe), env),
            [production_env(tmp_path / "on"), production_env(tmp_path / "off", PARLEY_HTTPS="0")],
        )
    assert on.stdout.split() == ["True", "True", "True", "31536000"], on.stderr
    assert off.stdout.split() == ["False", "False", "False", "0"], off.stderr


def test_embedded_defaults_sqlite_wal_and_generated_secrets(tmp_path):
    probe = (
        "from django.conf import settings as s; from django.db import connection; "
        "cursor = connection.cursor(); "
        "print(s.PARLEY_MODE, connection.vendor, s.CELERY_BROKER_URL, s.CHANNEL_LAYERS['default']['BACKEND']); "
        "print(cursor.execute('PRAGMA journal_mode').fetchone()[0], cursor.execute('PRAGMA busy_timeout').fetchone()[0]); "
        "print(s.SECRET_KEY); print(s.FIELD_ENCRYPTION_KEYS[0]); print(s.ALLOWED_HOSTS, s.DEBUG, s.SECURE_SSL_REDIRECT)"
    )
    first = run(manage("shell", "--no-imports", "-c", probe), clean_env(tmp_path))
    assert first.returncode == 0, first.stderr
    header, pragmas, secret_key, field_key, hosts = first.stdout.strip().splitlines()
    assert header.split() == ["embedded", "sqlite", "memory://localhost/", "channels.layers.InMemoryChannelLayer"]
    assert pragmas.split() == ["wal", "20000"]
    assert (tmp_path / "parley.sqlite3").exists()
    assert len(secret_key) >= 50
    Fernet(field_key)  # a usable key
    assert hosts == "['127.0.0.1', 'localhost'] False False"
    for name in ("secret_key", "field_keys"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600

    # The generated secrets are kept: a restart (or the worker) sees the same ones.
    second = run(manage("shell", "--no-imports", "-c", probe), clean_env(tmp_path))
    assert second.stdout.strip().splitlines()[2:4] == [secret_key, field_key]


def test_explicit_values_win_over_generated_ones_in_embedded_mode(tmp_path):
    secret_key, field_key = secrets.token_urlsafe(50), Fernet.generate_key().decode()
    probe = "from django.conf import settings as s; print(s.SECRET_KEY); print(s.FIELD_ENCRYPTION_KEYS)"
    result = run(manage("shell", "--no-imports", "-c", probe), clean_env(tmp_path, SECRET_KEY=secret_key, FIELD_ENCRYPTION_KEYS=field_key))
    assert result.stdout.strip().splitlines() == [secret_key, repr([field_key])], result.stderr
    assert not (tmp_path / "secret_key").exists() and not (tmp_path / "field_keys").exists()
