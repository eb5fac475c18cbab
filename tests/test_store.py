"""State store: schema migration under concurrent start-up."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from pipeline.config import load_settings
from pipeline.store import open_store

# Each child imports everything, says it is ready, then waits for the start
# signal, so all of them migrate the new database at the same moment.
CHILD = """
import sys, time
from pathlib import Path
from pipeline.config import load_settings
from pipeline.store import open_store
d, me = Path(sys.argv[1]), sys.argv[2]
settings = load_settings(data_dir=d / "data")
(d / f"ready-{me}").touch()
while not (d / "go").exists():
    time.sleep(0.001)
open_store(settings).close()
"""


def test_processes_starting_together_on_a_new_database_all_succeed(tmp_path: Path) -> None:
    """Parallel Airflow tasks on a fresh SQLite file race to create the schema."""
    n = 6
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), str(i)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, errors
    store = open_store(load_settings(data_dir=tmp_path / "data"))
    try:
        assert store.count_articles() == 0
    finally:
        store.close()
