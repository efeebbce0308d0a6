"""Alternates Parley and the reference engine round by round, so both see the same machine load,
then writes the ratios to docs/benchmarks.md."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from doc_sections import write_sections  # bench/, next to this script
from stack import machine

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "two_agent": "2-agent chat, 100 messages (max_turns=50)",
    "group_round_robin": "4-agent round-robin group chat, max_round=100",
}


def run_once(python: str, engine: str, *extra: str) -> dict:
    out = subprocess.run(
        [python, str(ROOT / "bench" / "engine_turns.py"), "--engine", engine, "--repeat", "3", *extra],
        cwd=ROOT, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reference-python", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # A ratio only means something if both engines did the same work: same messages, same order.
    ours = run_once(sys.executable, "parley", "--transcripts")
    theirs = run_once(args.reference_python, "reference", "--transcripts")
    for key in SCENARIOS:
        if [list(m) for m in ours[key]] != [list(m) for m in theirs[key]]:
            sys.exit(f"bench: the engines' transcripts differ in {key}; the timings would not be comparable")
    samples: dict[str, dict[str, list[float]]] = {"parley": {}, "reference": {}}
    for round_no in range(args.rounds):
        for engine, python in (("parley", sys.executable), ("reference", args.reference_python)):
            result = run_once(python, engine)
            for key in SCENARIOS:
                samples[engine].setdefault(key, []).append(result[key]["seconds_per_turn"])
        print(f"bench: round {round_no + 1}/{args.rounds} done", file=sys.stderr)

    rows = []
    for key, label in SCENARIOS.items():
        parley = statistics.median(samples["parley"][key])
        reference = statistics.median(samples["reference"][key])
        rows.append((label, parley * 1e6, reference * 1e6, parley / reference))
    ref_version = subprocess.run(
        [args.reference_python, "-c", "import autogen; print(autogen.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    table = "\n".join(
        f"| {label} | {p:.1f} µs | {r:.1f} µs | **{ratio:.2f}×** |" for label, p, r, ratio in rows
    )
    doc = f"""# Benchmarks

Run with `make bench` (`bench/run.sh`). Each section names the date and machine of its latest run.

## Engine overhead per turn

Measured {datetime.date.today().isoformat()} on {machine()}.

The same AutoGen-style script (`bench/engine_turns.py`) runs on Parley's engine and on the
reference AG2-classic engine (`autogen=={ref_version}`, installed only in the benchmark's own
environment). The model is an in-process scripted client registered with `model_client_cls`, so
every reply takes each engine's real LLM path with no model time. Engines alternate round by round
({args.rounds} rounds × 3 repeats each; medians), so both see the same machine load; compare the
ratio, since absolute times drift on shared machines. Before timing, the run checks that both
engines produce identical transcripts (speaker, role and content of every message) for each
scenario. Target: Parley ≤ 0.5× the reference.

| scenario | Parley per turn | reference per turn | ratio (Parley / reference) |
|---|---|---|---|
{table}
"""
    # Only the preamble and this section: the run benchmarks own their sections of the same file.
    write_sections(ROOT / "docs" / "benchmarks.md", doc)
    print(doc)


if __name__ == "__main__":
    main()
