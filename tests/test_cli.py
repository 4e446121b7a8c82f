"""The `twinstar` command from outside: self-test, bad flags, bad data dir, the standalone simulator."""
import json
import os
import socket
import subprocess
import sys
import threading
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
    venues = ("bybit", "binance", "okx", "bitget", "bingx", "upbit", "bithumb")
    assert exchanges == {f"exchange={e}" for e in venues}, exchanges


def test_unknown_exchange_is_refused_with_the_valid_ones():
    r = run(["--demo", "--exchanges", "kraken"])
    assert r.returncode == 2 and "valid: bybit, binance, okx, bitget, bingx, upbit, bithumb" in r.stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sim(tmp_path, *args):
    """`twinstar sim ...` in a child; its output goes to a file, not a pipe nobody reads (it could fill up)."""
    log_path = tmp_path / "sim.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "twinstar_gui", "sim", *args], stdout=log_file,
                                stderr=subprocess.STDOUT, text=True)
    return proc, log_path


def first_answer(proc, url, log_path, timeout=60.0):
    """The first answer from the simulator's `url`: start-up (imports, price paths) is slow on a loaded CI
    machine, so wait up to `timeout`, and stop at once, with its log, if the simulator exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5)
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"simulator did not answer (exit {proc.poll()}): {log_path.read_text()[-2000:]}")
            time.sleep(0.1)


def test_standalone_simulator_serves_bybit_rest(tmp_path):
    port = free_port()
    proc, log_path = start_sim(tmp_path, "--port", str(port), "--speed", "60")
    try:
        url = f"http://127.0.0.1:{port}/bybit/v5/market/kline?category=linear&symbol=BTCUSDT&interval=15&limit=5"
        body = json.load(first_answer(proc, url, log_path))
        assert body["retCode"] == 0 and len(body["result"]["list"]) == 5
    finally:
        proc.terminate()
        proc.wait(10)


def test_headless_collector_against_the_simulator(tmp_path):
    import signal

    from twinstar_gui.data.store import CandleStore
    from twinstar_gui.sim.clock import SimClock
    from twinstar_gui.sim.market import Market
    from twinstar_gui.sim.server import SimThread

    sim = SimThread(Market(SimClock(speed=3600.0), seed=4, history_days=12)).start()
    try:
        env = {**os.environ, "TWINSTAR_BYBIT_REST_URL": sim.rest_url("bybit"),
               "TWINSTAR_BYBIT_WS_URL": sim.ws_url("bybit")}
        err_path = tmp_path / "collect.err"
        with open(err_path, "w") as err_file:  # a file: an unread stderr pipe could fill and block the child
            proc = subprocess.Popen([sys.executable, "-m", "twinstar_gui", "collect", "--exchange", "bybit",
                                     "--symbols", "BTCUSDT,ETHUSDT", "--data", str(tmp_path / "data"),
                                     "--health-every", "0.5"], stdout=subprocess.PIPE, stderr=err_file, text=True,
                                    env=env)
        out_lines: list[str] = []
        reader = threading.Thread(target=lambda: out_lines.extend(proc.stdout), daemon=True)
        reader.start()

        def states():
            return [line for line in list(out_lines) if line.startswith("bybit: state=")]

        deadline = time.monotonic() + 60  # a few health lines, one of them live (start-up is slow under load)
        while time.monotonic() < deadline and proc.poll() is None and not (
                len(states()) >= 4 and any("state=live" in line for line in states())):
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        reader.join(10)
    finally:
        sim.stop()
    out = "".join(out_lines)
    assert proc.returncode == 0, err_path.read_text()[-2000:]
    lines = states()
    assert len(lines) >= 4 and any("state=live" in line for line in lines), out[-2000:]
    assert "stopped: every candle flushed" in out
    store = CandleStore(tmp_path / "data")
    for sym in ("BTCUSDT", "ETHUSDT"):
        disk = store.load("bybit", sym)
        ts = disk["timestamp"].astype("int64").to_numpy()
        assert len(ts) >= 1000 and (ts[1:] - ts[:-1] == 900_000).all()
        truth = sim.market.closed_candles(sym, 900_000, int(ts[0]), int(ts[-1]))
        assert [c.close for c in truth] == disk["close"].tolist()


def test_collector_refuses_bad_input(tmp_path):
    r = run(["collect", "--exchange", "kraken", "--symbols", "X"])
    assert r.returncode == 2 and "valid: bybit" in r.stderr and "Traceback" not in r.stderr
    r = run(["collect"])
    assert r.returncode == 2 and "--exchange" in r.stderr


def test_standalone_simulator_takes_signed_orders_with_its_api_key(tmp_path):
    pytest.importorskip("ccxt")
    from twinstar_gui.execution.base import OrderRequest
    from twinstar_gui.execution.live import LiveExecutor, LiveExecutorError
    from twinstar_gui.secrets import ApiKeys

    port, trade_port = free_port(), free_port()
    proc, log_path = start_sim(tmp_path, "--port", str(port), "--trade-port", str(trade_port), "--api-key",
                               "cliKey123", "--api-secret", "cliSecret456", "--balance", "2500")
    try:
        base = f"http://127.0.0.1:{trade_port}/bybit"
        first_answer(proc, f"{base}/v5/market/time", log_path)
        with pytest.raises(LiveExecutorError, match="refused the API key"):
            LiveExecutor.connect("bybit", ApiKeys("bybit", "cliKey123", "wrong"), rest_url=base)
        ex = LiveExecutor.connect("bybit", ApiKeys("bybit", "cliKey123", "cliSecret456"), rest_url=base)
        ex.refresh()
        assert ex.balance() == pytest.approx(2500.0)
        ex.last_price["ETHUSDT"] = 3000.0
        order = ex.place(OrderRequest("ETHUSDT", "buy", 0.1, "cli-1"))
        assert order.status == "filled"
        assert [p.symbol for p in ex.positions()] == ["ETHUSDT"]
    finally:
        proc.terminate()
        proc.wait(10)
    out = log_path.read_text()
    assert f"127.0.0.1:{trade_port}/bybit" in out and "cliSecret456" not in out


@pytest.mark.parametrize("args, message", [
    (["--demo", "--speed", "nan"], "argument --speed: expected a number >= 0.001"),
    (["--demo", "--speed", "inf"], "argument --speed: expected a number >= 0.001"),
    (["sim", "--speed", "nan"], "argument --speed: expected a number >= 0.001"),
    (["sim", "--speed", "1e-320"], "argument --speed: expected a number >= 0.001"),
    (["sim", "--balance", "nan"], "argument --balance: expected a number >= 0"),
    (["collect", "--exchange", "bybit", "--health-every", "nan"], "argument --health-every: expected a number >= 0.05"),
    (["collect", "--exchange", "bybit", "--health-every", "0"], "argument --health-every: expected a number >= 0.05"),
    (["collect", "--exchange", "bybit", "--health-every", "1e-320"], "argument --health-every: expected a number"),
    (["collect", "--exchange", "bybit", "--duration=-inf"], "argument --duration: expected a number >= 0.05"),
    (["collect", "--exchange", "bybit", "--symbols", "\u017fOLUSDT"], "symbol name '\u017fOLUSDT' is not allowed"),
    (["collect", "--exchange", "bybit", "--symbols", "A" * 300], "symbol name 'AAAA"),
    (["collect", "--exchange", "bybit", "--symbols", "BTCUSDT,../../etc"], "symbol name '../../etc' is not allowed"),
    (["collect", "--exchange", "bybit", "--symbols", "A," * 50_000], "100,000 characters of symbols"),
    (["collect", "--exchange", "bybit", "--symbols", "top:" + "9" * 5000], "is not allowed"),
    (["bot", "unified", "--exchange", "bybit", "--status-every", "nan"], "argument --status-every: expected a number"),
    (["bot", "unified", "--exchange", "bybit", "--symbols", "x/y/z"], "symbol name 'x/y/z' is not allowed"),
    (["--demo", "--symbols", "../x"], "symbol name '../x' is not allowed"),
])
def test_bad_numbers_and_names_are_refused_naming_the_flag(args, message):
    r = run(args, timeout=30)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr[-1500:]


@pytest.mark.parametrize("content, message", [
    (b'{"windw_1h": 300}', "windw_1h: unknown key; did you mean 'window_1h'?"),
    (b'{"exchanges": {"bybit": {"enabled": "no"}}}', "exchanges.bybit.enabled: expected true or false"),
    (b"\xff\xfe\x00bad", "not UTF-8 text"),
])
def test_a_bad_settings_file_is_named_by_every_command(tmp_path, content, message):
    cfg = tmp_path / "settings.json"
    cfg.write_bytes(content)
    for args in (["--demo", "--config", str(cfg)], ["collect", "--exchange", "bybit", "--config", str(cfg)],
                 ["bot", "unified", "--exchange", "bybit", "--config", str(cfg)]):
        r = run(args, timeout=30)
        assert r.returncode == 2 and message in r.stderr and str(cfg) in r.stderr, (args, r.stderr[-1500:])
        assert "Traceback" not in r.stderr
    r = run(["--self-test", "--config", str(cfg)])
    assert r.returncode == 1 and f"[FAIL] settings file: settings file {cfg}" in r.stdout and message in r.stdout
    assert "self-test FAILED" in r.stdout


def test_self_test_reads_the_settings_file_it_is_given(tmp_path):
    cfg = tmp_path / "settings.json"
    cfg.write_text(json.dumps({"exchanges": {"okx": {"enabled": True}}}))
    r = run(["--self-test", "--config", str(cfg)])
    assert r.returncode == 0 and f"[ok] settings file: {cfg}: valid (bybit, okx enabled)" in r.stdout, r.stdout
