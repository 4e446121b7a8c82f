"""The `twinstar` command from outside: self-test, bad flags, bad data dir, the standalone simulator."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def run(args, timeout=90, env=None):
    e = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    return subprocess.run([sys.executable, "-m", "twinstar_gui", *args], capture_output=True, text=True,
                          timeout=timeout, env=e)


def test_self_test_passes():
    r = run(["--self-test"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "self-test passed" in r.stdout and "[ok] ws round trip" in r.stdout and "[ok] render" in r.stdout


def test_bad_flag_is_a_message_not_a_traceback():
    r = run(["--no-such-flag"])
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr and "Traceback" not in r.stderr


def test_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run(["--demo", "--quit-after", "1"], env={"TWINSTAR_DATA_DIR": str(blocker / "sub")})
    assert r.returncode == 2 and "not writable" in r.stderr and "Traceback" not in r.stderr


def test_demo_runs_and_quits(tmp_path):
    r = run(["--demo", "--quit-after", "8"], env={"TWINSTAR_DATA_DIR": str(tmp_path / "d")})  # Bithumb paces 2 req/s
    assert r.returncode == 0, r.stderr[-2000:]
    files = list((tmp_path / "d").rglob("*.parquet"))
    exchanges = {p.parts[len((tmp_path / "d").parts)] for p in files}
    assert exchanges == {f"exchange={e}" for e in ("bybit", "binance", "okx", "bitget", "bingx", "upbit", "bithumb")}, exchanges


def test_unknown_exchange_is_refused_with_the_valid_ones():
    r = run(["--demo", "--exchanges", "kraken"])
    assert r.returncode == 2 and "valid: bybit, binance, okx, bitget, bingx, upbit, bithumb" in r.stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_standalone_simulator_serves_bybit_rest():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "twinstar_gui", "sim", "--port", str(port), "--speed", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/bybit/v5/market/kline?category=linear&symbol=BTCUSDT&interval=15&limit=5"
        for _ in range(100):
            try:
                body = json.load(urllib.request.urlopen(url, timeout=2))
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("simulator did not answer")
        assert body["retCode"] == 0 and len(body["result"]["list"]) == 5
    finally:
        proc.terminate()
        proc.wait(10)
