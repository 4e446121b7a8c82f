"""`twinstar order` and `twinstar orders` from outside, against the simulator: paper on OKX (contracts) and Upbit
(KRW spot), live through ccxt on the simulator's signed Bybit API. Refusals exit 1 with the reason and send
nothing; a wrong command exits 2."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from twinstar_gui.execution.trade_journal import Journal
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread

KEY, SECRET = "cliKey5e1d", "cliSecret93ab77"


@pytest.fixture(scope="module")
def sim():
    thread = SimThread(Market(SimClock(speed=1.0), seed=5), push_interval=0.5).start()
    yield thread
    thread.stop()


def run(sim, data: Path, *args: str, live_keys: Path | None = None,
        extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TWINSTAR_CONFIG": str(data / "none.json"), "PYTHONUNBUFFERED": "1"}
    for ex in ("okx", "upbit", "bybit"):
        env[f"TWINSTAR_{ex.upper()}_REST_URL"] = sim.rest_url(ex)
    if live_keys is not None:
        support = Path(__file__).resolve().parent / "support"
        env.update(TWINSTAR_BYBIT_REST_URL=sim.trade_url("bybit"), TWINSTAR_TEST_KEYRING=str(live_keys),
                   PYTHON_KEYRING_BACKEND="file_keyring.JsonFileKeyring",
                   PYTHONPATH=os.pathsep.join([str(support), os.environ.get("PYTHONPATH", "")]))
    env.update(extra or {})
    return subprocess.run([sys.executable, "-m", "twinstar_gui", *args, "--data", str(data)], env=env,
                          capture_output=True, text=True, timeout=120)


def test_paper_orders_on_okx_are_counted_in_coins_listed_and_cancelled(sim, tmp_path):
    last = sim.market.last_price("BTCUSDT")
    r = run(sim, tmp_path, "order", "buy", "--exchange", "okx", "--symbol", "BTC/USDT:USDT", "--qty", "0.01")
    assert r.returncode == 0, r.stderr
    (line,) = r.stdout.splitlines()
    assert " BTC/USDT:USDT buy market filled " in line and "size=0.01 " in line and "owner=manual" in line
    price = float(line.split("price=")[1].split()[0])
    assert price == pytest.approx(last, rel=0.02)
    below = round(last * 0.9, 1)
    r = run(sim, tmp_path, "order", "sell", "--exchange", "okx", "--symbol", "btc", "--qty", "0.005",
            "--price", f"{below * 1.2:.1f}", "--post-only", "--reduce-only")
    assert r.returncode == 0, r.stderr
    resting = r.stdout.split()[0]
    assert " sell limit new " in r.stdout
    r = run(sim, tmp_path, "orders", "--exchange", "okx")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1 and r.stdout.startswith(resting)
    assert " BTC/USDT:USDT sell limit new " in r.stdout and "size=0.005" in r.stdout
    r = run(sim, tmp_path, "orders", "--exchange", "okx", "--cancel", resting)
    assert r.returncode == 0 and r.stdout.startswith(f"cancelled {resting}")
    assert run(sim, tmp_path, "orders", "--exchange", "okx").stdout == ""
    journal = Journal(tmp_path / "_trading" / "journal.sqlite3")
    try:
        (pos,) = journal.positions("paper-okx")
        assert (pos.symbol, pos.qty, pos.bot) == ("BTC-USDT-SWAP", 0.01, "manual")
    finally:
        journal.close()


@pytest.mark.parametrize(("args", "flag", "reason"), [
    (["--qty", "0.0001"], "--qty", "below the minimum"),
    (["--qty", "0.01", "--price", "50000.05"], "--price", "off the tick grid"),
    (["--qty", "0.01", "--price", "999999", "--post-only"], "--post-only", "would take liquidity"),
    (["--qty", "5", "--reduce-only"], "--reduce-only", "needs a short position"),
    (["--qty", "0.01", "--sl", "999999"], "--sl", "must be below"),
])
def test_a_bad_order_is_refused_before_it_leaves_the_app(sim, tmp_path, args, flag, reason):
    r = run(sim, tmp_path, "order", "buy", "--exchange", "okx", "--symbol", "BTC/USDT:USDT", *args)
    assert r.returncode == 1 and f"refused ({flag})" in r.stderr and reason in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    journal = Journal(tmp_path / "_trading" / "journal.sqlite3")
    try:
        assert journal.orders("paper-okx") == []
    finally:
        journal.close()


def test_krw_orders_by_value_and_a_spot_sell_of_what_is_not_held(sim, tmp_path):
    r = run(sim, tmp_path, "order", "buy", "--exchange", "upbit", "--symbol", "BTC/KRW", "--notional", "100000")
    assert r.returncode == 0, r.stderr
    size = float(r.stdout.split("size=")[1].split()[0])
    price = float(r.stdout.split("price=")[1].split()[0])
    assert " BTC/KRW buy market filled " in r.stdout and price > 1_000_000  # counted in KRW
    assert size * price == pytest.approx(100_000, rel=0.01)
    r = run(sim, tmp_path, "order", "sell", "--exchange", "upbit", "--symbol", "BTC/KRW", "--qty", str(size * 2))
    assert r.returncode == 1 and "sells only what is held" in r.stderr


def test_wrong_commands_exit_2_with_a_message(sim, tmp_path):
    r = run(sim, tmp_path, "order", "buy", "--exchange", "okx", "--symbol", "NOSUCHCOIN", "--qty", "1")
    assert r.returncode == 2 and "not listed" in r.stderr
    r = run(sim, tmp_path, "order", "buy", "--exchange", "nope", "--symbol", "BTC", "--qty", "1")
    assert r.returncode == 2 and "unknown exchange" in r.stderr
    r = run(sim, tmp_path, "order", "buy", "--exchange", "okx", "--symbol", "BTC", "--qty", "nan")
    assert r.returncode == 2 and "--qty" in r.stderr
    r = run(sim, tmp_path, "order", "buy", "--exchange", "okx", "--symbol", "BTC", "--qty", "1", "--notional", "5")
    assert r.returncode == 2 and "not allowed with" in r.stderr
    r = run(sim, tmp_path, "order", "buy", "--exchange", "bybit", "--symbol", "BTC", "--qty", "1", "--live")
    assert r.returncode == 2 and "--confirm-live" in r.stderr


def test_live_orders_through_the_signed_api_list_cancel_and_the_exchanges_refusal(sim, tmp_path):
    account = sim.server.add_account(KEY, SECRET, balance=10_000.0)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"twinstar/bybit:api_key": KEY, "twinstar/bybit:api_secret": SECRET}))
    last = sim.market.last_price("ETHUSDT")
    live = ("--live", "--confirm-live")
    r = run(sim, tmp_path, "order", "buy", "--exchange", "bybit", "--symbol", "ETH/USDT:USDT", "--qty", "0.1",
            "--price", f"{round(last * 0.9, 2):.2f}", *live, live_keys=keys)
    assert r.returncode == 0, r.stderr
    oid = r.stdout.split()[0]
    (sent,) = [o for o in account.orders.values() if o.order_id == oid]
    assert (sent.symbol, sent.side, sent.type, sent.qty, sent.status) == ("ETHUSDT", "Buy", "Limit", 0.1, "New")
    assert sent.link_id == r.stdout.split()[1]
    r = run(sim, tmp_path, "orders", "--exchange", "bybit", *live, live_keys=keys)
    assert r.returncode == 0 and r.stdout.startswith(oid) and "owner=manual" in r.stdout, r.stdout + r.stderr
    r = run(sim, tmp_path, "order", "buy", "--exchange", "bybit", "--symbol", "ETHUSDT", "--qty", "3000", *live,
            live_keys=keys)
    assert r.returncode == 1 and "over the limit of 1,000 USDT" in r.stderr  # our risk limit: never sent
    (tmp_path / "none.json").write_text(json.dumps({"trading": {"risk": {"max_position_usdt": 1e9}}}))
    r = run(sim, tmp_path, "order", "buy", "--exchange", "bybit", "--symbol", "ETHUSDT", "--qty", "3000", *live,
            live_keys=keys)
    assert r.returncode == 1 and "ab not enough for new order" in r.stderr and "InsufficientFunds" in r.stderr
    assert [o.qty for o in account.orders.values()] == [0.1]  # the refused one never became an order
    r = run(sim, tmp_path, "orders", "--exchange", "bybit", "--cancel-all", *live, live_keys=keys)
    assert r.returncode == 0 and r.stdout.startswith(f"cancelled {oid}")
    assert sent.status == "Cancelled"
    assert KEY not in r.stdout + r.stderr and SECRET not in r.stdout + r.stderr


def test_a_live_okx_order_from_the_command_is_counted_in_contracts_at_the_exchange(sim, tmp_path):
    """`--qty 0.01` BTC on OKX is 1 contract of 0.01 BTC in the signed request; the line printed says 0.01."""
    account = sim.server.add_account("okxCliKey1", "okxCliSecret2", balance=10_000.0, exchange="okx",
                                     passphrase="okxCliPass3")
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"twinstar/okx:api_key": "okxCliKey1", "twinstar/okx:api_secret": "okxCliSecret2",
                                "twinstar/okx:passphrase": "okxCliPass3"}))
    env_url = {"TWINSTAR_OKX_REST_URL": sim.trade_url("okx")}
    last = sim.market.last_price("BTCUSDT")
    r = run(sim, tmp_path, "order", "buy", "--exchange", "okx", "--symbol", "BTC/USDT:USDT", "--qty", "0.01",
            "--price", f"{round(last * 0.9, 1):.1f}", "--live", "--confirm-live", live_keys=keys, extra=env_url)
    assert r.returncode == 0, r.stderr
    assert " BTC/USDT:USDT buy limit new " in r.stdout and "size=0.01 " in r.stdout
    (sent,) = account.orders.values()
    assert sent.symbol == "BTCUSDT" and sent.qty == pytest.approx(0.01)  # the sim keeps its market and base units
    r = run(sim, tmp_path, "orders", "--exchange", "okx", "--live", live_keys=keys, extra=env_url)
    assert r.returncode == 0 and "size=0.01 " in r.stdout and "owner=manual" in r.stdout
    r = run(sim, tmp_path, "orders", "--exchange", "okx", "--live", "--cancel-all", live_keys=keys, extra=env_url)
    assert r.returncode == 0 and r.stdout.startswith("cancelled ")
    assert sent.status == "Cancelled"
    assert "okxCliSecret2" not in r.stdout + r.stderr and "okxCliPass3" not in r.stdout + r.stderr


def test_an_unreachable_exchange_is_an_outage_never_an_order_on_a_guessed_grid(tmp_path):
    """Nothing listens on the exchange's address and no instrument list is cached: the order is not journaled on a
    made-up tick and lot, and the outage is said (exit 2), not taken for a bad symbol or a refusal."""
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TWINSTAR_CONFIG": str(tmp_path / "none.json"),
           "TWINSTAR_OKX_REST_URL": f"http://127.0.0.1:{port}/okx"}
    r = subprocess.run([sys.executable, "-m", "twinstar_gui", "order", "buy", "--exchange", "okx", "--symbol",
                        "ZZZNOPE/USDT:USDT", "--qty", "1", "--price", "123.4", "--data", str(tmp_path)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no instrument list" in r.stderr and "nothing sent" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    journal = Journal(tmp_path / "_trading" / "journal.sqlite3")
    try:
        assert journal.orders("paper-okx") == []
    finally:
        journal.close()


def test_a_paper_account_traded_by_a_running_window_is_not_traded_from_the_command_too(sim, tmp_path):
    """The window (here: its claim, as build_trading takes it) holds the paper account's state in memory: the
    command refuses (exit 2, naming the holder) instead of writing the same journal behind its back."""
    from twinstar_gui.config import settings_from_dict
    from twinstar_gui.trading_stack import claim_paper_account

    held = claim_paper_account(settings_from_dict({"data_dir": str(tmp_path)}), "okx")
    try:
        r = run(sim, tmp_path, "order", "buy", "--exchange", "okx", "--symbol", "BTC", "--qty", "0.01")
        assert r.returncode == 2 and f"pid {os.getpid()}" in r.stderr and "place the order there" in r.stderr
        r = run(sim, tmp_path, "orders", "--exchange", "okx")  # a listing reads the journal: fine
        assert r.returncode == 0, r.stderr
        r = run(sim, tmp_path, "orders", "--exchange", "okx", "--cancel-all")
        assert r.returncode == 2 and "place the order there" in r.stderr
    finally:
        held.close()
    r = run(sim, tmp_path, "order", "buy", "--exchange", "okx", "--symbol", "BTC", "--qty", "0.01")
    assert r.returncode == 0, r.stderr  # given up: the command trades it
