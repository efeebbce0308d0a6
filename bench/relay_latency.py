"""Relay latency: from the worker's persist of a message to a websocket client's receipt of it, in
production mode (a real `celery -A workers worker`, channels_redis on Redis, PostgreSQL, the ASGI
server `manage.py serve`; bench/stack.py).

    python bench/relay_latency.py --runs 20 --turns 10

Every run has a viewer: a websocket client with a session cookie that connects before the run is
dispatched, says `resume 0`, and notes the wall-clock time each transcript fragment arrives. A
message's persist time is its row's `created_at`, set inside the transaction that saves it (one
host, one clock). While the runs go on, every model reply streams word by word, so the layer also
carries token batches (~20 per second per run), as it does in use. Prints one JSON object with
p50/p90/p99/max in milliseconds (targets: p50 ≤ 15 ms, p99 ≤ 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.concurrent_runs import make_crew, percentile  # noqa: E402
from bench.stack import Stack, cpu_seconds, env_option, host_cpu, machine  # noqa: E402

SEQ = re.compile(r'data-seq="(\d+)"')
QUIET_SECONDS = 15.0  # as static/js/run.js
FINAL = re.compile(r'id="run-status"[^>]*data-status="(completed|failed|cancelled)"')
# ~25 words, streamed one per chunk: the token batcher sends several batches per reply.
REPLY = ("Here is the next step of the plan, written out in a few more words than strictly needed so that "
         "it streams for a little while.")


async def watch(url: str, origin: str, cookie: str, ready: asyncio.Event,
                timeout: float) -> tuple[dict[int, float], int, int]:
    """Receipt time of every seq on one run's socket, how many token frames came, and how often the
    client had to ask again. Like the run page (static/js/run.js), it sends `resume` when no
    transcript or status frame came for QUIET_SECONDS: a missed doorbell then shows as latency."""
    from websockets.asyncio.client import connect

    received: dict[int, float] = {}
    tokens = resumes = 0
    async with connect(url, origin=origin, additional_headers={"Cookie": cookie}, open_timeout=10,
                       max_size=None) as socket:
        await socket.send(json.dumps({"type": "resume", "last_seq": 0}))
        await asyncio.wait_for(socket.recv(), timeout)  # the status frame: the consumer has joined the group
        ready.set()
        deadline = time.monotonic() + timeout
        heard = time.monotonic()
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: the run did not end within {timeout:.0f} s")
            if time.monotonic() - heard > QUIET_SECONDS:
                resumes += 1
                heard = time.monotonic()
                await socket.send(json.dumps({"type": "resume", "last_seq": max(received, default=0)}))
            try:
                frame = await asyncio.wait_for(socket.recv(), 1.0)
            except asyncio.TimeoutError:
                continue
            now = time.time()
            for seq in SEQ.findall(frame):
                received.setdefault(int(seq), now)
            if 'class="run-stream-text"' in frame:
                tokens += 1
            else:
                heard = time.monotonic()
            if FINAL.search(frame):
                return received, tokens, resumes


def measure(args: argparse.Namespace) -> dict:
    rules = [{"text": REPLY, "delay": args.latency, "chunk_delay": args.chunk_delay}]
    env = dict(args.env)
    if args.no_db_pool:
        env["PARLEY_DB_POOL_SIZE"] = "0"
    with Stack(workers=1, concurrency=args.concurrency, llm_rules=rules, serve=True, env=env) as stack:
        from asgiref.sync import sync_to_async
        from django.db import connection

        from studio.runs import services
        from studio.runs.models import Message, Run
        from workers import tasks

        user, crew = make_crew(stack.llm_url, args.turns)
        cookie = stack.session_cookie(user)

        async def scenario(count: int) -> tuple[list, float, list[tuple[dict[int, float], int, int]]]:
            runs = [await sync_to_async(services.start_run)(crew, user=user, dispatch=False) for _ in range(count)]
            ready = [asyncio.Event() for _ in runs]
            opened = time.monotonic()
            watchers = [asyncio.create_task(watch(stack.ws_url(f"/ws/runs/{run.public_id}/"), stack.origin, cookie,
                                                  event, args.timeout)) for run, event in zip(runs, ready)]
            # Every viewer is in its run's group before any run starts (a failed viewer ends the wait).
            waiting = [asyncio.create_task(event.wait()) for event in ready]
            await asyncio.wait([asyncio.gather(*waiting), *watchers], return_when=asyncio.FIRST_COMPLETED)
            for watcher in watchers:
                if watcher.done():
                    watcher.result()  # raises what went wrong
            joined = time.monotonic() - opened
            for run in runs:
                tasks.start_run.apply_async(args=[str(run.public_id)], queue=stack.queue)
            return runs, joined, await asyncio.gather(*watchers)

        # One watched run first, not measured: the first socket and the first reply of each
        # process import and compile what later ones reuse (templates, renderers, the LLM SDK).
        asyncio.run(scenario(1))
        host_before, worker_before = host_cpu(), cpu_seconds(stack.worker_pids[0])
        runs, results, joined = [], [], 0.0
        for _ in range(args.repeats):  # rounds one after another, pooled: one round's phase is noisy
            round_runs, round_joined, round_results = asyncio.run(scenario(args.runs))
            runs += round_runs
            results += round_results
            joined = max(joined, round_joined)
        host_after, worker_after = host_cpu(), cpu_seconds(stack.worker_pids[0])
        latencies: list[float] = []
        token_frames = resumes = 0
        for run, (received, tokens, asked) in zip(runs, results):
            token_frames += tokens
            resumes += asked
            saved = dict(Message.objects.filter(run_id=run.pk).values_list("seq", "created_at"))
            if sorted(received) != sorted(saved) or not saved:
                raise SystemExit(f"bench: run {run.public_id} delivered seqs {sorted(received)}, saved {sorted(saved)}")
            latencies += [(received[seq] - saved[seq].timestamp()) * 1000.0 for seq in saved]
        statuses = set(Run.objects.filter(pk__in=[run.pk for run in runs]).values_list("status", flat=True))
        connection.close()
        if statuses != {"completed"}:
            raise SystemExit(f"bench: runs ended {statuses}; logs in {stack.tmp}")
        return {
            "runs": args.runs, "repeats": args.repeats, "turns": args.turns, "db_pool": not args.no_db_pool, "messages": len(latencies),
            "token_frames": token_frames, "resumes": resumes,
            "latency_s": args.latency, "p50_ms": round(percentile(latencies, 0.50), 2),
            "p90_ms": round(percentile(latencies, 0.90), 2), "p99_ms": round(percentile(latencies, 0.99), 2),
            "max_ms": round(max(latencies), 2), "min_ms": round(min(latencies), 2),
            "viewers_joined_s": round(joined, 2),
            "worker_cpu_s": round(worker_after - worker_before, 2),
            "host_cpu_busy": round((host_after[0] - host_before[0]) / max(1e-9, host_after[1] - host_before[1]), 3),
            "machine": machine(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="concurrent runs, each with one viewer")
    parser.add_argument("--turns", type=int, default=10, help="model calls per run (2 × turns messages)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before each model reply starts")
    parser.add_argument("--chunk-delay", type=float, default=0.01, help="seconds between streamed words")
    parser.add_argument("--concurrency", type=int, default=32, help="worker threads")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up on a run after this many seconds")
    parser.add_argument("--no-db-pool", action="store_true",
                        help="turn the PostgreSQL connection pool off (PARLEY_DB_POOL_SIZE=0), for comparison")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of --runs runs, one after another, pooled")
    env_option(parser)
    args = parser.parse_args()
    if args.runs < 1 or args.turns < 1:
        parser.error("--runs and --turns must be at least 1")
    print(json.dumps(measure(args)))


if __name__ == "__main__":
    main()
