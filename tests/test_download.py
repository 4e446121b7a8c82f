"""History download into a real Parquet dataset from the simulator on loopback: every venue's paging (OKX and
Bitget switch to their history endpoints for old candles), resume after a stop, the exchange's own holes reported,
and `twinstar download` as a user runs it (a child process)."""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from twinstar_gui.data.download import STEP, Downloader, missing_runs
from twinstar_gui.data.store import CandleStore
from twinstar_gui.exchanges.registry import exchange_names, get_exchange
from twinstar_gui.net.rest import RestClient
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import DAY_MS, Market
from twinstar_gui.sim.server import SimThread

ROOT = Path(__file__).resolve().parents[1]
NATIVE = {"bybit": "ETHUSDT", "binance": "ETHUSDT", "okx": "ETH-USDT-SWAP", "bitget": "ETHUSDT",
          "bingx": "ETH-USDT", "upbit": "KRW-ETH", "bithumb": "ETH_KRW"}


@pytest.fixture(scope="module")
def sim():
    thread = SimThread(Market(SimClock(speed=1.0), seed=12, history_days=70)).start()
    yield thread
    thread.stop()


def downloader(sim, exchange, root, **kw):
    rest = RestClient(get_exchange(exchange, rest_url=sim.rest_url(exchange), ws_url=sim.ws_url(exchange)))
    return Downloader(exchange, rest, CandleStore(root), **kw)


def day(n_ago: int) -> int:
    now = int(time.time() * 1000)
    return now - now % DAY_MS - n_ago * DAY_MS


def stored(root, exchange, symbol):
    frame = CandleStore(root).load(exchange, symbol)
    return frame["timestamp"].astype("int64").to_numpy(), frame


def test_missing_runs():
    have = np.array([10, 11, 12, 15, 20]) * STEP
    assert missing_runs(have, 8 * STEP, 22 * STEP) == [(8 * STEP, 9 * STEP), (13 * STEP, 14 * STEP),
                                                         (16 * STEP, 19 * STEP), (21 * STEP, 22 * STEP)]
    assert missing_runs(have, 10 * STEP, 12 * STEP) == []
    assert missing_runs(np.empty(0, np.int64), 0, 3 * STEP) == [(0, 3 * STEP)]


@pytest.mark.parametrize("exchange", exchange_names())
def test_every_venue_fills_the_range_once_and_a_second_run_asks_for_nothing(sim, tmp_path, exchange):
    # 60 days back: older than OKX's /candles (1,440 bars) and Bitget's (about 52 days) reach
    start, symbol = day(60), NATIVE[exchange]
    d = downloader(sim, exchange, tmp_path)
    report = d.symbol(symbol, start, start + 60 * DAY_MS)
    d.store.close()
    ts, frame = stored(tmp_path, exchange, symbol)
    assert report.complete and report.had == 0 and report.fetched == len(ts) and report.gaps == []
    assert ts[0] == start and (np.diff(ts) == STEP).all() and len(ts) >= 60 * 96 - 1
    assert report.first_ms == start and report.last_ms == ts[-1]
    assert (frame["high"] >= frame[["open", "close", "low"]].max(axis=1)).all()
    if exchange == "bybit":  # the very candles the exchange has
        truth = sim.server.market.closed_candles("ETHUSDT", STEP, start, int(ts[-1]))
        assert frame["close"].tolist() == [c.close for c in truth]
    again = downloader(sim, exchange, tmp_path).symbol(symbol, start, start + 60 * DAY_MS)
    assert again.fetched == 0 and again.had == len(ts) and again.complete


def test_a_stopped_download_continues_where_the_dataset_ends(sim, tmp_path):
    stop, pages = threading.Event(), []

    def progress(symbol, done, total):
        pages.append(done)
        if len(pages) == 15:  # in the second slab of ten 100-row pages
            stop.set()

    start = day(40)
    first = downloader(sim, "okx", tmp_path, stop=stop, progress=progress).symbol("SOL-USDT-SWAP", start, day(0) - 1)
    assert first.stopped and not first.complete and first.fetched == 1000  # the first slab
    ts, _ = stored(tmp_path, "okx", "SOL-USDT-SWAP")
    assert len(ts) == first.fetched and ts[0] == start  # what was fetched before the stop is on disk
    second = downloader(sim, "okx", tmp_path).symbol("SOL-USDT-SWAP", start, day(0) - 1)
    assert second.complete and second.had == first.fetched
    ts, _ = stored(tmp_path, "okx", "SOL-USDT-SWAP")
    assert len(ts) == first.fetched + second.fetched == 40 * 96 and (np.diff(ts) == STEP).all()


def test_a_range_into_the_future_asks_only_for_what_exists(sim, tmp_path):
    before = sim.server.rest_requests
    report = downloader(sim, "upbit", tmp_path).symbol("KRW-SOL", day(1), day(-3650))  # until ten years ahead
    asked = sim.server.rest_requests - before
    assert report.complete and report.fetched >= 96 and report.gaps == []
    assert asked <= 3, f"{asked} requests for a day and a half of candles"


def test_the_exchanges_own_holes_are_reported_not_hidden(tmp_path):
    market = Market(SimClock(speed=1.0), seed=3, history_days=10)
    hole = (day(5) + 8 * 3_600_000, day(5) + 11 * 3_600_000)  # a 3-hour maintenance five days ago
    market.add_outage(*hole)
    thread = SimThread(market).start()
    try:
        report = downloader(thread, "upbit", tmp_path).symbol("KRW-BTC", day(8), day(1) - 1)
    finally:
        thread.stop()
    assert report.complete and report.gaps == [(hole[0], hole[1] - STEP)] and report.missing == 12
    assert report.fetched == 7 * 96 - 12


def run_cli(args, sim, tmp_path, exchange="upbit"):
    env = {**os.environ, f"TWINSTAR_{exchange.upper()}_REST_URL": sim.rest_url(exchange) if sim else
           "http://127.0.0.1:9/x", "TWINSTAR_CONFIG": str(tmp_path / "settings.json")}
    return subprocess.run([sys.executable, "-m", "twinstar_gui", "download", "--exchange", exchange, *args,
                           "--data", str(tmp_path / "data")], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)


def test_the_command_downloads_top_symbols_with_progress_and_a_summary(sim, tmp_path):
    since = time.strftime("%Y-%m-%d", time.gmtime(day(3) / 1000))
    done = run_cli(["--symbols", "top:2", "--since", since], sim, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "[########################] 100.0%" in out and "(2/2)" in out
    rows = [ln.split() for ln in out.split("symbol ", 1)[1].splitlines() if ln.startswith("KRW-")]  # the summary
    assert len(rows) == 2 and all(int(r[1].replace(",", "")) >= 3 * 96 and r[2] == "0" and r[7] == "0" for r in rows)
    assert "upbit: " in out and "candles fetched for 2 symbol(s)" in out
    again = run_cli(["--symbols", "top:2", "--since", since], sim, tmp_path)
    assert again.returncode == 0 and "upbit: 0 candles fetched for 2 symbol(s)" in again.stdout


@pytest.mark.parametrize("args, words", [
    (["--symbols", "BTC", "--since", "2025-13-01"], "is not a date"),
    (["--symbols", "BTC", "--since", "2099-01-01"], "in the future"),
    (["--symbols", "BTC", "--since", "2025-02-01", "--until", "2025-01-01"], "--until is before --since"),
    (["--symbols", "NOSUCHCOIN/KRW", "--since", "2025-01-01"], "NOSUCHCOIN"),
    (["--symbols", "top:0", "--since", "2025-01-01"], "top:N needs"),
])
def test_bad_input_exits_2_naming_what_is_wrong(sim, tmp_path, args, words):
    done = run_cli(args, sim, tmp_path)
    assert done.returncode == 2 and words in done.stderr, done.stderr[-1500:]


def test_an_unreachable_exchange_is_a_failure_not_a_bad_symbol(tmp_path):
    done = run_cli(["--symbols", "BTC/KRW", "--since", time.strftime("%Y-%m-%d", time.gmtime(day(2) / 1000))], None,
                   tmp_path)
    assert done.returncode == 1, (done.stdout[-1500:], done.stderr[-1500:])
    assert "KRW-BTC" in done.stdout and "1 failed" in done.stdout


def test_a_symbol_listed_after_since_is_not_paged_through_again(tmp_path):
    """The exchange's history of a symbol starts after --since (its listing): the first run pages through the empty
    years once and remembers where the history starts; a second run asks for nothing before it."""
    market = Market(SimClock(speed=1.0), seed=3, history_days=5)  # the simulator's history starts 5 days ago
    thread = SimThread(market).start()
    pages = []
    try:
        first = downloader(thread, "bybit", tmp_path).symbol("BTCUSDT", day(40), day(1) - 1)
        second = downloader(thread, "bybit", tmp_path, progress=lambda s, done, total: pages.append(total)) \
            .symbol("BTCUSDT", day(40), day(1) - 1)
    finally:
        thread.stop()
    assert first.complete and first.first_ms == market.genesis and first.fetched > 0
    assert second.complete and second.fetched == 0 and second.history_start == market.genesis
    assert pages == []  # nothing was left to ask for: no page at all
    marker = tmp_path / "exchange=bybit" / "symbol=BTCUSDT" / "tf=15m" / ".history-start"
    assert marker.read_text().strip() == str(market.genesis)
    for bad in ("garbage", "-900000", "99999999999999999999999", "1000"):  # a file is untrusted: ignored
        marker.write_text(bad)
        assert Downloader("bybit", None, CandleStore(tmp_path))._history_start("BTCUSDT") is None
