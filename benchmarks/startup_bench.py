"""Start-up time of the CLI: whole processes, lazy imports vs the old eager ones.

Prints, side by side in one run, the median wall time of:
- ``python -c pass`` (the interpreter alone),
- ``newswatch --help``, ``newswatch alerts --help`` and ``newswatch search --help``
  as shipped (heavy modules imported only by the commands that need them),
- ``newswatch --help`` after importing what the CLI used to import at start
  (settings, SQLAlchemy, Alembic, alert state): the cost the lazy imports save,
and which heavy modules ``import pipeline.cli`` loads (should be none).
The alerts CLI itself is a lazy subgroup: loaded by ``newswatch alerts ...`` only.

Usage: .venv/bin/python benchmarks/startup_bench.py [--runs 7]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
HEAVY = (
    "pipeline.alerts.cli",
    "yaml",
    "sqlalchemy",
    "alembic",
    "pipeline.alerts.state",
    "pipeline.config",
    "pipeline.enrich.gazetteer",
    "scipy",
)
EAGER = (
    "import pipeline.config, pipeline.store, pipeline.alerts.state, pipeline.alerts.cli\n"
    "import sys; sys.argv = ['newswatch', '--help']\n"
    "from pipeline.cli import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
)


def timed(cmd: list[str], runs: int) -> tuple[float, float]:
    """Median (wall, CPU user+sys) seconds of whole processes.

    CPU time is printed too because wall time on a shared machine swings with
    the load; the CPU a start-up burns does not.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    cases = [
        ("python -c pass", [py, "-c", "pass"]),
        ("newswatch --help (lazy)", [str(BIN / "newswatch"), "--help"]),
        ("newswatch alerts --help (lazy)", [str(BIN / "newswatch"), "alerts", "--help"]),
        ("newswatch search --help (lazy)", [str(BIN / "newswatch"), "search", "--help"]),
        ("newswatch --help (eager imports)", [py, "-c", EAGER]),
    ]
    print(f"median over {args.runs} runs, seconds: wall / CPU (user+sys)")
    for name, cmd in cases:
        w, c = timed(cmd, args.runs)
        print(f"  {name:<36} {w:6.3f} / {c:6.3f}")
    probe = f"import sys, pipeline.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    loaded = subprocess.run([py, "-c", probe], capture_output=True, text=True).stdout.strip()
    print(f"heavy modules loaded by `import pipeline.cli`: {loaded}")


if __name__ == "__main__":
    main()
