"""Concurrent runs on one worker host: N runs of a two-agent crew against the fake LLM server (every
model call answers after a fixed latency, streaming its words), on real `celery -A workers worker`
processes with Redis and PostgreSQL (bench/stack.py).

    python bench/concurrent_runs.py --runs 200 --latency 0.3 --turns 5 --workers 1 --concurrency 8

Ideal: no run ever waits for anything but its model, so one run takes turns × latency, and with S
worker slots (workers × concurrency) the batch takes ceil(N / S) such rounds; with S ≥ N that is
one run's model time. Efficiency = ideal / measured (target ≥ 80%), where measured is from the
first task's dispatch to the last run's end. `efficiency_all_at_once` compares against the S ≥ N
ideal whatever S is. Worker RSS is the peak of the sum over worker processes, sampled every
100 ms (target ≤ 1 GiB). The workers are warmed up with a few runs first. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import Stack, cpu_seconds, env_option, host_cpu, machine, rss_bytes  # noqa: E402

REPLY = "Noted, here is the next step of the plan."


class RssSampler:
    """Peak of the summed resident memory of some processes, sampled on a thread."""

    def __init__(self, pids: list[int], interval: float = 0.1) -> None:
        self.pids = pids
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(rss_bytes(pid) for pid in self.pids))
            self._stop.wait(self.interval)


def make_crew(llm_url: str, turns: int):
    """boss (user proxy, NEVER, turns - 1 auto-replies) ↔ an assistant on the fake server: `turns`
    model calls and 2 × turns messages per run."""
    from studio.accounts.services import sign_up
    from studio.crews import services

    user = sign_up(username="bench", email="bench@example.test", password="bench-password-not-used-42")
    workspace = user.personal_workspace
    model = services.create_model(workspace, user=user, name="Fake", provider="openai_compatible", model="gpt-bench",
                                  base_url=llm_url, api_key="test-key")
    helper = services.create_agent(workspace, user=user, name="planner", model=model, system_message="You plan.")
    boss = services.create_agent(workspace, user=user, name="boss", kind="user_proxy", human_input_mode="NEVER",
                                 max_consecutive_auto_reply=turns - 1, default_auto_reply="go on",
                                 termination_rule="none")
    crew = services.create_crew(workspace, user=user, name="Bench", kind="two_agent", initiator=boss,
                                recipient=helper, task="Plan the week.")
    return user, crew


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def measure(args: argparse.Namespace) -> dict:
    rules = [{"text": REPLY, "delay": args.latency}]
    env = dict(args.env)
    with Stack(workers=args.workers, concurrency=args.concurrency, llm_rules=rules, env=env) as stack:
        from django.db import connection

        from studio.runs import services
        from studio.runs.models import Run, RunStatus
        from workers import tasks

        user, crew = make_crew(stack.llm_url, args.turns)
        one_run = args.turns * args.latency
        slots = args.workers * args.concurrency
        ideal = math.ceil(args.runs / slots) * one_run
        deadline_after = max(120.0, 20 * ideal)

        def run_batch(count: int) -> tuple[list[int], float, float]:
            """Start `count` runs at once and wait for them: (run ids, start time, dispatch seconds)."""
            runs = [services.start_run(crew, user=user, dispatch=False) for _ in range(count)]
            started = time.time()
            for run in runs:
                tasks.start_run.apply_async(args=[str(run.public_id)], queue=stack.queue)
            dispatched = time.time() - started
            deadline = time.monotonic() + deadline_after
            ids = [run.pk for run in runs]
            while Run.objects.filter(pk__in=ids, status__in=["queued", "running"]).exists():
                if time.monotonic() > deadline:
                    raise SystemExit(f"bench: runs still active after {deadline_after:.0f} s; logs in {stack.tmp}")
                time.sleep(0.1)
            return ids, started, dispatched

        # A worker that has served before: its first run imports the SDKs and opens its pools.
        run_batch(args.workers * 4)
        pids = [*stack.worker_pids, stack.llm_pid]
        cpu_before, host_before = [cpu_seconds(pid) for pid in pids], host_cpu()
        with RssSampler(stack.worker_pids) as rss:
            ids, started, dispatched = run_batch(args.runs)
        cpu_after, host_after = [cpu_seconds(pid) for pid in pids], host_cpu()
        connection.close()
        rows = list(Run.objects.filter(pk__in=ids).values("status", "started_at", "finished_at", "last_seq"))
        statuses = {row["status"] for row in rows}
        if statuses != {RunStatus.COMPLETED} or {row["last_seq"] for row in rows} != {2 * args.turns}:
            raise SystemExit(f"bench: not every run completed with {2 * args.turns} messages: {statuses}; "
                             f"logs in {stack.tmp}\n{stack.log('worker-0.log')}")
        finished = max(row["finished_at"].timestamp() for row in rows)
        measured = finished - started
        waits = [row["started_at"].timestamp() - started for row in rows]
        durations = [(row["finished_at"] - row["started_at"]).total_seconds() for row in rows]
        return {
            "runs": args.runs, "turns": args.turns, "latency_s": args.latency, "workers": args.workers,
            "concurrency": args.concurrency, "slots": slots, "ideal_s": round(ideal, 3),
            "measured_s": round(measured, 3), "efficiency": round(ideal / measured, 3),
            "efficiency_all_at_once": round(one_run / measured, 3), "dispatch_s": round(dispatched, 3),
            "start_wait_p50_s": round(statistics.median(waits), 3), "start_wait_max_s": round(max(waits), 3),
            "run_p50_s": round(statistics.median(durations), 3), "run_p99_s": round(percentile(durations, 0.99), 3),
            "worker_rss_peak_mib": round(rss.peak / 2**20, 1), "messages": sum(row["last_seq"] for row in rows),
            "worker_cpu_s": round(sum(cpu_after[:-1]) - sum(cpu_before[:-1]), 2),
            "fake_llm_cpu_s": round(cpu_after[-1] - cpu_before[-1], 2),
            "host_cpu_busy": round((host_after[0] - host_before[0]) / max(1e-9, host_after[1] - host_before[1]), 3),
            "machine": machine(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per model call")
    parser.add_argument("--turns", type=int, default=5, help="model calls per run")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker process (Parley's default: 8)")
    env_option(parser)
    args = parser.parse_args()
    if args.turns < 1 or args.runs < 1:
        parser.error("--turns and --runs must be at least 1")
    print(json.dumps(measure(args)))


if __name__ == "__main__":
    main()
