"""Offline plan timings: each stack's plan next to the time it takes to import exactly what the plan loads.

    python -m tools.bench [--runs 5]

The denominator is honest: a plan run records every module it loaded (the program's components, the SDK
submodules they pull in, the tools, the policy pack's rules), and a fresh process imports exactly that list,
in the same order, without running anything. The difference is what running the program adds: registering the
resources under the mock engine, the policy pack and the rendering. Each measurement is a fresh Python process
(nothing cached in memory) timed by its CPU time (user + system, from the kernel's accounting of the child):
on a shared machine wall-clock time mostly measures the neighbours. Each figure is the median of the runs, and
the ratio plan / imports is the figure to compare across machines. The policy pack's own time over each stack
(`tools.policy_gate.evaluate` over `run_stack`'s resources) is measured in one process, first call and warm.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from components.core.environments import STACKS
from tools.harness import ROOT

RECORD = """
import contextlib, io, json, sys
before = set(sys.modules)
from tools.plan import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["--stack", sys.argv[1], "--json"])
json.dump([m for m in sys.modules if m not in before and m != "__main__"], open(sys.argv[2], "w"))
"""

IMPORT = """
import importlib, json, sys
failed = 0
for name in json.load(open(sys.argv[1])):
    try:
        importlib.import_module(name)
    except Exception:
        failed += 1
print(failed)
"""

PACK = """
import json, statistics, sys, time
from tools.harness import run_stack
from tools.policy_gate import evaluate, load_pack_config
resources = [r for r in run_stack(sys.argv[1]).resources if not r.read]
config = load_pack_config()
start = time.process_time(); violations = evaluate(resources, config); first = time.process_time() - start
warm = []
for _ in range(int(sys.argv[2])):
    start = time.process_time(); evaluate(resources, config); warm.append(time.process_time() - start)
print(json.dumps({"first": first, "warm": statistics.median(warm), "resources": len(resources),
                  "violations": len(violations)}))
"""


def _timed(args: list[str]) -> tuple[float, str]:
    """(CPU seconds, user + system, of a fresh Python process running `args`; its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 1):  # 1: a policy violation still produced a plan
        raise RuntimeError(f"{' '.join(args[:3])} failed:\n{done.stderr}")
    return elapsed, done.stdout


def loaded_modules(stack: str, workdir: Path) -> Path:
    """The modules a plan of this stack loads, in import order, written to a JSON file."""
    path = workdir / f"modules-{stack}.json"
    _timed(["-c", RECORD, stack, str(path)])
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    print(f"CPU seconds, median of {args.runs} fresh processes per figure; imports = exactly the modules the plan "
          f"loads")
    print(f"{'stack':<12} {'resources':>9} {'modules':>8} {'imports (s)':>12} {'plan (s)':>9} "
          f"{'plan-imports':>13} {'plan/imports':>13} {'pack first/warm (ms)':>21}")
    with tempfile.TemporaryDirectory() as workdir:
        for stack in STACKS:
            modules = loaded_modules(stack, Path(workdir))
            count = len(json.loads(modules.read_text()))
            imports, failures = [], set()
            for _ in range(args.runs):
                elapsed, out = _timed(["-c", IMPORT, str(modules)])
                imports.append(elapsed)
                failures.add(int(out.strip()))
            plans, resources = [], 0
            for _ in range(args.runs):
                elapsed, out = _timed(["-m", "tools.plan", "--stack", stack, "--json"])
                plans.append(elapsed)
                resources = sum(1 for r in json.loads(out)["resources"] if r["custom"] and not r["lookup"])
            pack = json.loads(_timed(["-c", PACK, stack, str(args.runs)])[1])
            import_time, plan_time = statistics.median(imports), statistics.median(plans)
            note = f"  ({max(failures)} module(s) would not import alone)" if max(failures) else ""
            print(f"{stack:<12} {resources:>9} {count:>8} {import_time:>12.2f} {plan_time:>9.2f} "
                  f"{plan_time - import_time:>13.2f} {plan_time / import_time:>13.2f} "
                  f"{pack['first'] * 1000:>12.0f} / {pack['warm'] * 1000:<6.0f}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
