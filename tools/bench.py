"""Offline plan timings: each stack's plan next to the time it takes just to import the SDKs.

    python -m tools.bench [--runs 5]

Each measurement is a fresh Python process (so imports are not cached), repeated and reported
as the median. The machine is noisy, so the figure to compare across machines is the ratio
plan / import: how much the program itself adds to loading the provider SDKs it uses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from tools.harness import ROOT

SDKS = ["pulumi", "pulumi_aws", "pulumi_kubernetes", "pulumiverse_vercel", "pulumiverse_sentry", "pulumi_random"]


def _timed(args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: a policy violation still produced a plan
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr}")
    return elapsed, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    import_only = statistics.median(_timed(["-c", "import " + ", ".join(SDKS)])[0] for _ in range(args.runs))
    print(f"import SDKs only ({', '.join(SDKS)}): {import_only:.2f} s (median of {args.runs})")
    print(f"{'stack':<12} {'resources':>9} {'plan (s)':>9} {'plan / import':>14}")
    for stack in ("staging", "production"):
        timings, resources = [], 0
        for _ in range(args.runs):
            elapsed, out = _timed(["-m", "tools.plan", "--stack", stack, "--json"])
            timings.append(elapsed)
            resources = sum(1 for r in json.loads(out)["resources"] if r["custom"] and not r["lookup"])
        plan_time = statistics.median(timings)
        print(f"{stack:<12} {resources:>9} {plan_time:>9.2f} {plan_time / import_only:>14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
