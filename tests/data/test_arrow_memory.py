"""Arrow allocates through the system's malloc in our processes (its default, mimalloc, held on to ~9 MiB of a
collector's 115 MiB between writes), unless the user chose otherwise. Fresh interpreters: the choice is made once,
when pyarrow first loads."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import twinstar_gui.data.store, pyarrow as pa, pyarrow.parquet as pq, io; "
         "pq.write_table(pa.table({'x': list(range(1000))}), io.BytesIO()); "
         "print(pa.default_memory_pool().backend_name)")


def _backend(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if env_value is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_our_processes_use_the_system_allocator_for_arrow():
    assert _backend(None) == "system"


@pytest.mark.parametrize("chosen", ["mimalloc", "jemalloc"])
def test_a_users_own_choice_of_allocator_wins(chosen):
    import pyarrow as pa

    if chosen not in pa.supported_memory_backends():
        pytest.skip(f"this pyarrow build has no {chosen}")
    assert _backend(chosen) == chosen
