"""The PyInstaller bundle (scripts/build.sh -> dist/twinstar/), when one exists and is newer than the sources."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dist" / "twinstar" / ("twinstar.exe" if os.name == "nt" else "twinstar")


def _bundle_is_current() -> bool:
    built = APP.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in (ROOT / "twinstar_gui").rglob("*.py"))


pytestmark = [
    pytest.mark.skipif(not APP.exists(), reason="no frozen build (run scripts/build.sh)"),
    pytest.mark.skipif(APP.exists() and not _bundle_is_current(),
                       reason="frozen build is older than twinstar_gui/ (rerun scripts/build.sh)"),
]


def run(*args, env=None):
    return subprocess.run([str(APP), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})})


def test_frozen_self_test_passes():
    r = run("--self-test")
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    assert "self-test passed" in r.stdout and "[ok] render" in r.stdout and "[ok] ws round trip" in r.stdout
    assert "[ok] keyring" in r.stdout  # imported lazily by the app: a bundle missing it fails only there


def test_frozen_bad_flag_is_a_message_not_a_traceback():
    r = run("--no-such-flag")
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr and "Traceback" not in r.stderr


def test_frozen_unwritable_data_dir(tmp_path):
    (tmp_path / "file").write_text("x")
    r = run("--demo", "--quit-after", "1", env={"TWINSTAR_DATA_DIR": str(tmp_path / "file" / "sub")})
    assert r.returncode == 2 and "not writable" in r.stderr and "Traceback" not in r.stderr
