"""`twinstar bot` from outside: paper trading headless, restart recovery of an open position, live refusal."""
import os
import signal
import subprocess
import sys
import time

from scripted import SPEED, script_flat, script_trend

from twinstar_gui.execution.trade_journal import Journal
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread


def bot(sim, data, *args):
    env = {**os.environ, "TWINSTAR_BYBIT_REST_URL": sim.rest_url("bybit"), "TWINSTAR_BYBIT_WS_URL": sim.ws_url("bybit"),
           "TWINSTAR_CONFIG": str(data / "none.json"), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "twinstar_gui", "bot", *args, "--exchange", "bybit",
                             "--data", str(data), "--status-every", "0.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def read_until(proc, needle, timeout):
    end, seen = time.monotonic() + timeout, []
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if line:
            seen.append(line)
            if needle in line:
                return "".join(seen)
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.05)
    raise AssertionError(f"{needle!r} not seen; output:\n{''.join(seen)[-3000:]}")


def finish(proc, sim) -> str:
    """SIGINT (the clean stop a user gives) and the bot's remaining output; killed if it hangs; simulator stopped."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        sim.stop()


def test_an_open_paper_position_survives_a_restart_and_exits_at_take_profit(tmp_path):
    market = Market(SimClock(speed=SPEED), seed=3, history_days=12)
    for sym in market.symbols:
        script_flat(market, sym)
    script_trend(market, "ETHUSDT", future=1.004, future_groups=12)  # TP 2 % about 5 groups (20 s) after entry
    sim = SimThread(market).start()
    data = tmp_path / "data"
    try:
        first = bot(sim, data, "unified", "--symbols", "ETHUSDT")
        read_until(first, "filled buy ETHUSDT", 40)
        read_until(first, "USDT positions=ETH/USDT:USDT long", 10)  # the status line: unified, with the currency
        first.send_signal(signal.SIGINT)
        out1, _ = first.communicate(timeout=30)
        assert first.returncode == 0, out1[-2000:]
        journal = Journal(data / "_trading" / "journal.sqlite3")
        (pos,) = journal.positions("paper-bybit")
        assert pos.symbol == "ETHUSDT" and pos.qty > 0 and pos.take_profit and pos.bot == "unified-ETHUSDT"
        second = bot(sim, data, "unified", "--symbols", "ETHUSDT")
        text = read_until(second, "restored 1 open position", 30)
        text += read_until(second, "take profit hit", 60)
        second.send_signal(signal.SIGINT)
        second.communicate(timeout=30)
    finally:
        sim.stop()
    fills = sorted(journal.fills("paper-bybit"), key=lambda f: f.time_ms)
    assert [f.side for f in fills[:2]] == ["buy", "sell"] and fills[1].realized_pnl > 0
    assert journal.positions("paper-bybit") == [] or journal.positions("paper-bybit")[0].opened_ms > pos.opened_ms
    journal.close()


def test_live_mode_refuses_without_keys_and_bad_input_is_a_message(tmp_path):
    env = {**os.environ, "TWINSTAR_CONFIG": str(tmp_path / "none.json"), "TWINSTAR_DATA_DIR": str(tmp_path / "d"),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "twinstar_gui", "bot", *a], capture_output=True,
                                    text=True, env=env, timeout=60)
    r = run("scanner", "--exchange", "bybit", "--live", "--confirm-live")
    assert r.returncode == 2 and "live mode needs API keys for bybit" in r.stderr and "Traceback" not in r.stderr
    r = run("sideways", "--exchange", "bybit")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = run("multi", "--exchange", "kraken")
    assert r.returncode == 2 and "unknown exchange 'kraken'" in r.stderr


def test_headless_live_bot_trades_through_the_signed_api_and_the_exchange_takes_profit(tmp_path):
    """`twinstar bot unified --live` against the simulator's Bybit account: keys from the keyring (a JSON-file
    backend stands in for the OS keyring a child process cannot share with the test), signed orders through
    ccxt, the take profit executed by the exchange."""
    import json
    from pathlib import Path

    market = Market(SimClock(speed=SPEED), seed=3, history_days=12)
    for sym in market.symbols:
        script_flat(market, sym)
    script_trend(market, "ETHUSDT", future=1.004, future_groups=12)
    sim = SimThread(market).start()
    account = sim.server.add_account("liveKey42", "liveSecret42", balance=5_000.0)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"twinstar/bybit:api_key": "liveKey42", "twinstar/bybit:api_secret": "liveSecret42"}))
    support = Path(__file__).resolve().parents[1] / "support"
    env = {**os.environ, "TWINSTAR_BYBIT_REST_URL": sim.trade_url("bybit"),
           "TWINSTAR_BYBIT_WS_URL": sim.ws_url("bybit"), "TWINSTAR_CONFIG": str(tmp_path / "none.json"),
           "PYTHONUNBUFFERED": "1", "TWINSTAR_TEST_KEYRING": str(keys),
           "PYTHON_KEYRING_BACKEND": "file_keyring.JsonFileKeyring",
           "PYTHONPATH": os.pathsep.join([str(support), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "twinstar_gui", "bot", "unified", "--exchange", "bybit",
                             "--symbols", "ETHUSDT", "--live", "--confirm-live", "--data", str(tmp_path / "d"),
                             "--status-every", "0.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        text = read_until(proc, "reconciled with the exchange", 40)
        text += read_until(proc, "sent buy ETHUSDT", 40)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(o.stop_type == "TakeProfit" for o in account.orders.values()):
            time.sleep(0.2)
    finally:
        out = finish(proc, sim)
    text += out
    assert proc.returncode == 0, text[-3000:]
    opened = [o for o in account.orders.values() if o.symbol == "ETHUSDT" and o.side == "Buy"]
    assert len(opened) == 1 and opened[0].link_id and opened[0].take_profit > opened[0].avg_price
    closes = [o for o in account.orders.values() if o.stop_type == "TakeProfit"]
    assert len(closes) == 1 and account.positions["ETHUSDT"].qty == 0
    assert account.balance > 5_000.0
    assert "liveSecret42" not in text and "liveKey42" not in text


def test_headless_scanner_and_multi_trader_trade_on_the_simulator(tmp_path):
    """`twinstar bot scanner` and `twinstar bot multi` from outside, paper mode: each trades only the trending
    symbols (the scanner watches both of its candidates, so either may enter first) and the strongest one
    (SOL for the scanner; BTC of the top 50 for the multi trader) enters and exits at the take profit."""
    import json

    from scripted import scripted_market

    from twinstar_gui.sim.market import DEFAULT_SYMBOLS

    config = tmp_path / "settings.json"  # the multi trader on the 4h RSI the scripts shape, scanning every second
    config.write_text(json.dumps({"trading": {"multi_scan_s": 1, "multi_rsi_timeframe": "4h"}}))
    runs = {"scanner": ({"SOLUSDT": {}, "LINKUSDT": {"up": 1.004, "down": 0.998}}, "SOLUSDT",
                        ["--symbols", ",".join(list(DEFAULT_SYMBOLS)[:50])]),
            "multi": ({"BTCUSDT": {}, "XRPUSDT": {"up": 1.004, "down": 0.998}}, "BTCUSDT", [])}
    for flow, (trends, winner, extra) in runs.items():
        sim = SimThread(scripted_market(trends)).start()
        data = tmp_path / flow
        proc = bot(sim, data, flow, *extra, "--config", str(config))
        try:
            text = read_until(proc, f"filled buy {winner}", 60)
            text += read_until(proc, f"{winner} take profit hit", 60)
            text += read_until(proc, f"filled sell {winner}", 30)
        finally:
            out = finish(proc, sim)
        assert proc.returncode == 0, (text + out)[-3000:]
        journal = Journal(data / "_trading" / "journal.sqlite3")
        fills = sorted(journal.fills("paper-bybit"), key=lambda f: f.time_ms)
        journal.close()
        assert {f.symbol for f in fills} <= set(trends), (flow, fills)  # the flat symbols are never candidates
        mine = [f for f in fills if f.symbol == winner]
        assert [f.side for f in mine[:2]] == ["buy", "sell"], (flow, fills)
        assert mine[1].realized_pnl > 0 and mine[1].bot == flow
