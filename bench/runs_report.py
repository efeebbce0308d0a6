"""Runs the live-run benchmarks (bench/relay_latency.py, bench/concurrent_runs.py) in the documented
configurations, one fresh stack each, and writes their two sections of docs/benchmarks.md.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python bench/runs_report.py [--quick]

`--quick` runs one configuration of each (a smoke run; the document is not written).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.doc_sections import write_sections  # noqa: E402
from bench.stack import host_cpu, machine  # noqa: E402

RELAY = {"turns": 10, "latency": 0.3, "chunk-delay": 0.05}
RELAY_MIN_ROUNDS, RELAY_MIN_MESSAGES = 3, 300
RELAY_VIEWERS = [1, 5, 10]
CONCURRENT = {"runs": 200, "turns": 5, "latency": 0.3}
# (worker processes, threads each); Parley's default is 8 threads per worker.
CONCURRENT_SLOTS = [(1, 8), (2, 8), (1, 16)]


def _relay_options(runs: int) -> dict:
    """Enough rounds for at least MIN_MESSAGES messages per row, so its p99 is not one outlier."""
    rounds = max(RELAY_MIN_ROUNDS, math.ceil(RELAY_MIN_MESSAGES / (2 * RELAY["turns"] * runs)))
    return {**RELAY, "repeats": rounds}


def _bounded(command: list[str], limit: float = 1800.0) -> tuple[int, str, str]:
    """Run one benchmark; past `limit` (or when this script is stopped) it gets SIGTERM, which it
    turns into a clean stop of everything it started (bench/stack.py)."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=limit)
    except BaseException:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        raise
    return process.returncode, stdout, stderr


def run(script: str, **options: object) -> dict:
    command = [sys.executable, str(ROOT / "bench" / script)]
    for name, value in options.items():
        if value is True:
            command.append(f"--{name}")
        elif value is not False:
            command += [f"--{name}", str(value)]
    print("bench:", " ".join(command[1:]), file=sys.stderr, flush=True)
    background = _busy_share(3.0)  # what else the host is doing right before the run
    for attempt in (1, 2):  # one retry: on a shared host a service restart can spoil a run
        before = host_cpu()
        returncode, stdout, stderr = _bounded(command)
        if returncode == 0:
            break
        print(f"bench: {script} failed (attempt {attempt}):\n{stderr[-2000:]}", file=sys.stderr)
    else:
        return {"failed": stderr.strip().splitlines()[-1][:200] if stderr.strip() else "no output",
                **{key.replace("-", "_"): value for key, value in options.items()}}
    result = json.loads(stdout.strip().splitlines()[-1])
    after = host_cpu()
    result["host_busy_whole"] = round((after[0] - before[0]) / max(1e-9, after[1] - before[1]), 3)
    result["background_busy"] = background
    return result


def _busy_share(seconds: float) -> float:
    import time

    before = host_cpu()
    time.sleep(seconds)
    after = host_cpu()
    return round((after[0] - before[0]) / max(1e-9, after[1] - before[1]), 3)


def relay_section(rows: list[dict]) -> str:
    def row(r: dict) -> str:
        pool = "pool (as configured)" if r.get("db_pool") else "off"
        if "failed" in r:
            return f"| {r['runs']} | {pool} | failed: {r['failed']} |||||||| "
        return (f"| {r['runs']} | {pool} | {r['messages']} | {r['token_frames']} | {r['resumes']} | {r['p50_ms']:.1f} | "
                f"{r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['host_cpu_busy']:.0%} | "
                f"{r['background_busy']:.0%} |")

    table = "\n".join(row(r) for r in rows)
    return f"""## Relay latency: worker persist → websocket client

Measured {datetime.date.today().isoformat()} on {machine()}; `bench/relay_latency.py`, all
configurations by `bench/runs_report.py`. Targets: p50 ≤ 15 ms, p99 ≤ 50 ms.

Production mode on one host: a `celery -A workers worker` process (thread pool), channels_redis
(its pub/sub layer, as configured) on Redis, PostgreSQL, and `manage.py serve` (uvicorn) for the
websockets. Every run has one viewer, a websocket client logged in with a session cookie that joins
before the run is dispatched. Each row pools at least {RELAY_MIN_ROUNDS} rounds of that many runs
(and at least {RELAY_MIN_MESSAGES} messages), one round after another on the same stack, after one
unmeasured warm-up run.
Latency is the client's wall-clock receipt of a transcript fragment minus the message row's
`created_at`, which is set in the transaction that saves it (same host, same clock). Each run is a
two-agent chat of {RELAY['turns']} model calls ({2 * RELAY['turns']} messages) against the fake
LLM server: {RELAY['latency']} s before each reply, then its ~25 words streamed
{RELAY['chunk-delay'] * 1000:.0f} ms apart, so the layer also carries the token batches
(up to 20 per second per run) it carries in use. "Database connections" is the PostgreSQL connection
pool of every process as `studio/settings.py` configures it, or "off" with `PARLEY_DB_POOL_SIZE=0`.
Host CPU is the share of both cores busy during the measurement, "before the run" the share busy
in the 3 s before it started: the host is shared, and other work counts in both.

| runs (= viewers) | database connections | messages | token frames | resumes | p50 ms | p90 ms | p99 ms | max ms | host CPU busy | before the run |
|---|---|---|---|---|---|---|---|---|---|---|
{table}
"""


def _best(rows: list[dict], **match: object) -> dict | None:
    found = [r for r in rows if "failed" not in r and all(r.get(k) == v for k, v in match.items())]
    return found[0] if found else None


def relay_notes(rows: list[dict]) -> str:
    pooled, plain = _best(rows, runs=1, db_pool=True), _best(rows, runs=1, db_pool=False)
    lines = ["What limits it:", ""]
    lines.append(
        "- No first-message delay: every server process keeps one Redis subscription of its own from "
        "startup (studio/lifespan.py). Without it, channels_redis's pub/sub receive loop sleeps 100 ms at "
        "a time while its process is subscribed to nothing, and a run's first message after a quiet spell "
        "arrived 60–80 ms late, which was most of the one-viewer p99.")
    lines.append(
        "- The consumer's database work. For each doorbell the run consumer makes one "
        "`database_sync_to_async` hop (the access re-check and the new rows together), and Channels "
        "runs those hops one at a time on one thread per server process. Each hop borrows a pooled "
        "PostgreSQL connection (`PARLEY_DB_POOL_SIZE`, default 20). Token batches that arrive while "
        "an access check is under way share the next check, so a doorbell waits behind at most one.")
    if pooled and plain:
        lines.append(
            f"- The pool. With the pool off (`PARLEY_DB_POOL_SIZE=0`, the \"off\" row), every hop logs in to "
            f"PostgreSQL anew: one viewer sees p50 {plain['p50_ms']:.1f} ms, against {pooled['p50_ms']:.1f} ms "
            "with it.")
    lines += [
        "- Workers never wait for Redis to take a run event: the send is handed to the process's relay loop "
        "(at most 500 in flight), and a run's next token batch waits until its previous one is sent, so "
        "batches grow instead of queueing when the relay falls behind.",
        "- On 2 cores, the worker, the server, PostgreSQL, Redis, the fake LLM server and the clients share the "
        "CPU, so the tail grows with the number of streaming runs.",
        "- A lost doorbell costs latency, never a message. The run page asks again after 15 s without news, "
        "and so does the benchmark's client (column \"resumes\").",
        "",
    ]
    return "\n".join(lines)


def concurrent_notes(rows: list[dict]) -> str:
    done = [r for r in rows if "failed" not in r]
    if not done:
        return ""
    per_call = [1000 * r["worker_cpu_s"] / (r["runs"] * r["turns"]) for r in done]
    low, high = min(per_call), max(per_call)
    first = done[0]
    demand = first["runs"] / first["latency_s"]
    rss = max(r["worker_rss_peak_mib"] for r in done)
    return f"""What limits it:

- CPU. The workers spent {low:.0f}–{high:.0f} ms of CPU per model call. The largest parts are the
  OpenAI SDK building each request and parsing every streamed chunk, one short transaction per step
  (a conditional UPDATE of the run on its lease and the messages' INSERT), and the relay. SDK
  clients are shared per process and model options, so a run builds no HTTP client or TLS context of
  its own. A process runs Python on one core at a time, so one process completes at most
  ~{1000 / low:.0f} model calls per second. Past that, more slots only add contention. The fake LLM
  server, PostgreSQL and Redis share the same 2 cores ("host CPU busy").
- Running all {first['runs']} runs at once would mean ~{demand:.0f} model calls per second, about
  {demand * low / 1000:.0f} cores for the workers alone. That is out of reach on this host, so "all at
  once" needs more cores or worker hosts, not worker settings. Database connections do not limit it:
  a run hands its pooled connection back between steps, so it holds none while it waits for its model.
- Memory: the peak worker RSS was {rss:.0f} MiB ({"within" if rss <= 1024 else "over"} the 1 GiB target).
"""


def concurrent_section(rows: list[dict]) -> str:
    rows = [r for r in rows if "failed" not in r] or rows
    if "failed" in rows[0]:
        return f"## Concurrent runs on one worker host\n\nThe benchmark failed: {rows[0]['failed']}\n"
    table = "\n".join(
        f"| {r['workers']} × {r['concurrency']} | {r['ideal_s']:.1f} s | {r['measured_s']:.1f} s | "
        f"**{r['efficiency']:.0%}** | {r['efficiency_all_at_once']:.0%} | {r['run_p50_s']:.2f} s | "
        f"{r['worker_rss_peak_mib']:.0f} MiB | {1000 * r['worker_cpu_s'] / (r['runs'] * r['turns']):.0f} ms | "
        f"{r['host_cpu_busy']:.0%} | {r['background_busy']:.0%} |"
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
CPU time over the batch divided by its model calls. Host CPU busy and "before the run" as above.

| processes × threads | ideal | measured | efficiency | vs all at once | one run (p50) | worker RSS | worker CPU per model call | host CPU busy | before the run |
|---|---|---|---|---|---|---|---|---|---|
{table}
"""


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one configuration of each; do not write the document")
    args = parser.parse_args()
    viewers = RELAY_VIEWERS[:1] if args.quick else RELAY_VIEWERS
    relay_rows = [run("relay_latency.py", runs=n, **_relay_options(n)) for n in viewers]
    if not args.quick:  # the same with the pool off, for comparison
        relay_rows.append(run("relay_latency.py", runs=1, **_relay_options(1), **{"no-db-pool": True}))
    for row in relay_rows:
        row.setdefault("db_pool", "no_db_pool" not in row)
    slots = CONCURRENT_SLOTS[:1] if args.quick else CONCURRENT_SLOTS
    concurrent_rows = [run("concurrent_runs.py", workers=w, concurrency=c, **CONCURRENT) for w, c in slots]
    text = (relay_section(relay_rows) + "\n" + relay_notes(relay_rows) + "\n"
            + concurrent_section(concurrent_rows) + "\n" + concurrent_notes(concurrent_rows))
    if not args.quick:
        write_sections(ROOT / "docs" / "benchmarks.md", text)
    print(text)


if __name__ == "__main__":
    main()
