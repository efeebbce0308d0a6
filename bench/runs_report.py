"""Runs the live-run benchmarks (bench/relay_latency.py, bench/concurrent_runs.py) in the documented
configurations, one fresh stack each, and writes their two sections of docs/benchmarks.md.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python bench/runs_report.py [--quick]

`--quick` runs one configuration of each (a smoke run; the document is not written).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.doc_sections import write_sections  # noqa: E402
from bench.stack import host_cpu, machine  # noqa: E402

RELAY = {"turns": 10, "latency": 0.3, "chunk-delay": 0.05}
RELAY_VIEWERS = [1, 5, 10]
CONCURRENT = {"runs": 200, "turns": 5, "latency": 0.3}
# (worker processes, threads each). 64 slots is the most this PostgreSQL (max_connections 100,
# shared) can hold: a running run keeps one connection.
CONCURRENT_SLOTS = [(1, 8), (1, 32), (2, 32)]


def run(script: str, **options: object) -> dict:
    command = [sys.executable, str(ROOT / "bench" / script)]
    for name, value in options.items():
        if value is True:
            command.append(f"--{name}")
        elif value is not False:
            command += [f"--{name}", str(value)]
    print("bench:", " ".join(command[1:]), file=sys.stderr, flush=True)
    before = host_cpu()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"bench: {script} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    after = host_cpu()
    result["host_busy_whole"] = round((after[0] - before[0]) / max(1e-9, after[1] - before[1]), 3)
    return result


def relay_section(rows: list[dict]) -> str:
    table = "\n".join(
        f"| {r['runs']} | {'pool' if r['db_pool'] else 'as configured'} | {r['messages']} | {r['token_frames']} | "
        f"{r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['host_cpu_busy']:.0%} |"
        for r in rows)
    return f"""## Relay latency: worker persist → websocket client

Measured {datetime.date.today().isoformat()} on {machine()}; `bench/relay_latency.py`, all
configurations by `bench/runs_report.py`. Targets: p50 ≤ 15 ms, p99 ≤ 50 ms.

Production mode on one host: a `celery -A workers worker` process (thread pool), channels_redis
on Redis, PostgreSQL, and `manage.py serve` (uvicorn) for the websockets. Every run has one viewer,
a websocket client logged in with a session cookie that joins before the run is dispatched.
Latency is the client's wall-clock receipt of a transcript fragment minus the message row's
`created_at`, which is set in the transaction that saves it (same host, same clock). Each run is a
two-agent chat of {RELAY['turns']} model calls ({2 * RELAY['turns']} messages) against the fake
LLM server: {RELAY['latency']} s before each reply, then its ~25 words streamed
{RELAY['chunk-delay'] * 1000:.0f} ms apart, so the layer also carries the token batches
(~20 per second per run) it carries in use. "pool" serves with Django's PostgreSQL connection pool
(`OPTIONS["pool"]`, needs `psycopg-pool`); "as configured" is `studio/settings.py` as it is.
Host CPU is the share of both cores busy during the measurement (everything on the host counts,
including other work).

| runs (= viewers) | database connections | messages | token frames | p50 ms | p90 ms | p99 ms | max ms | host CPU busy |
|---|---|---|---|---|---|---|---|---|
{table}
"""


def concurrent_section(rows: list[dict]) -> str:
    table = "\n".join(
        f"| {r['workers']} × {r['concurrency']} | {r['ideal_s']:.1f} s | {r['measured_s']:.1f} s | "
        f"**{r['efficiency']:.0%}** | {r['efficiency_all_at_once']:.0%} | {r['run_p50_s']:.2f} s | "
        f"{r['worker_rss_peak_mib']:.0f} MiB | {1000 * r['worker_cpu_s'] / (r['runs'] * r['turns']):.0f} ms | "
        f"{r['host_cpu_busy']:.0%} |"
        for r in rows)
    first = rows[0]
    return f"""## Concurrent runs on one worker host

Measured {datetime.date.today().isoformat()} on {machine()}; `bench/concurrent_runs.py`, all
configurations by `bench/runs_report.py`. Targets: ≥ 80% of ideal, worker RSS ≤ 1 GiB.

{first['runs']} runs of a two-agent crew, {first['turns']} model calls each ({2 * first['turns']}
messages), against the fake LLM server answering after {first['latency_s']} s; real
`celery -A workers worker` processes (thread pool), Redis broker and channel layer, PostgreSQL.
The workers serve a few runs first (imports, pools), then all {first['runs']} tasks are queued at
once. Ideal: no run waits for anything but its model, so each takes
{first['turns']} × {first['latency_s']} s = {first['turns'] * first['latency_s']:.1f} s and S slots
(processes × threads) finish the batch in ceil({first['runs']} / S) such rounds. "All at once"
compares with the {first['turns'] * first['latency_s']:.1f} s that {first['runs']} slots would
need. RSS is the peak of the workers' summed resident memory; CPU per model call is the workers'
CPU time over the batch divided by its model calls.

| processes × threads | ideal | measured | efficiency | vs all at once | one run (p50) | worker RSS | worker CPU per model call | host CPU busy |
|---|---|---|---|---|---|---|---|---|
{table}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one configuration of each; do not write the document")
    args = parser.parse_args()
    pool = importlib.util.find_spec("psycopg_pool") is not None
    viewers = RELAY_VIEWERS[:1] if args.quick else RELAY_VIEWERS
    relay_rows = [run("relay_latency.py", runs=n, **RELAY) for n in viewers]
    if pool and not args.quick:
        relay_rows += [run("relay_latency.py", runs=n, **RELAY, **{"db-pool": True}) for n in viewers]
    slots = CONCURRENT_SLOTS[:1] if args.quick else CONCURRENT_SLOTS
    concurrent_rows = [run("concurrent_runs.py", workers=w, concurrency=c, **CONCURRENT) for w, c in slots]
    text = relay_section(relay_rows) + "\n" + concurrent_section(concurrent_rows)
    if not args.quick:
        write_sections(ROOT / "docs" / "benchmarks.md", text)
    print(text)


if __name__ == "__main__":
    main()
