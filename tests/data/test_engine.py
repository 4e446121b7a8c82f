"""The market data engine's thread and the taps that hand a series' changes to a view."""
import asyncio
import threading
import time

import numpy as np
import pytest
from waiting import wait_for

from twinstar_gui.config import settings_from_dict
from twinstar_gui.core.models import Candle, KlineEvent
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.data.engine import EngineStopped, MarketEngine
from twinstar_gui.data.manager import SeriesManager
from twinstar_gui.data.store import CandleStore
from twinstar_gui.data.tap import SeriesTap
from twinstar_gui.data.writer import CandleWriter
from twinstar_gui.exchanges import get_exchange
from twinstar_gui.net.rest import RestClient
from twinstar_gui.net.ws import WsConnection
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer
from twinstar_gui.wiring import build_core

Q = Timeframe.M15.ms
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


@pytest.fixture
def engine():
    e = MarketEngine("test-engine").start()
    yield e
    e.stop()


async def test_coroutines_and_calls_run_on_the_engine_thread_and_answer_the_callers_loop(engine):
    async def where() -> str:
        await asyncio.sleep(0.01)
        return threading.current_thread().name

    assert await engine.run(where()) == "test-engine"
    assert engine.call(lambda: threading.current_thread().name).result(5) == "test-engine"

    async def fails() -> None:
        raise ValueError("bad frame from okx")

    with pytest.raises(ValueError, match="bad frame"):
        await engine.run(fails())
    assert threading.current_thread().name != "test-engine"


async def test_work_handed_over_before_start_runs_once_started_and_nothing_after_stop():
    e = MarketEngine("late-engine")
    ran = []
    e.post(ran.append, "posted")
    future = e.call(lambda: threading.current_thread().name)
    assert not ran and not future.done()
    e.start()
    assert future.result(5) == "late-engine" and ran == ["posted"]

    finished = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            finished.set()  # cancelled by stop(), on the engine's thread

    e.submit(forever())
    await asyncio.sleep(0.05)
    assert e.stop(5.0)
    assert finished.is_set() and not e.running
    coro = forever()
    with pytest.raises(EngineStopped):
        e.submit(coro)
    e.post(ran.append, "too late")  # dropped, not raised
    assert ran == ["posted"]
    with pytest.raises(EngineStopped):  # a call after stop fails at once instead of never answering
        e.call(ran.append, "too late").result(1)


async def test_queued_work_shows_as_lag_and_clears(engine):
    await asyncio.sleep(0.3)
    assert engine.lag_ms < 100
    engine.post(time.sleep, 0.5)  # a slow disk, a burst of backfills: the engine's loop runs late
    await wait_for(lambda: engine.lag_ms >= 300, timeout=5, what="the lag")
    await wait_for(lambda: engine.lag_ms < 100, timeout=5, what="the lag to clear")


def _candle(i: int, close: float = 100.0) -> Candle:
    return Candle(T0 + i * Q, close, close + 1, close - 1, close, 1.0)


def _series(tmp_path, n: int) -> tuple[SeriesManager, CandleWriter]:
    store = CandleStore(tmp_path)
    if n:
        from twinstar_gui.data.manager import frame_of

        store.append("bybit", "BTCUSDT", frame_of([_candle(i) for i in range(n)]), source="rest")
    writer = CandleWriter(store)
    adapter = get_exchange("bybit", rest_url="http://127.0.0.1:9")  # never asked: nothing here fetches
    series = SeriesManager("bybit", "BTCUSDT", rest=RestClient(adapter), store=store, writer=writer,
                           windows={Timeframe.M15: 200}, now_ms=lambda: T0 + n * Q)
    return series, writer


async def test_a_tap_batches_a_series_changes_on_the_engine_thread_into_read_only_updates(engine, tmp_path):
    series, writer = _series(tmp_path, 100)
    await engine.run(series.load_history())
    woken: list[str] = []
    tap = SeriesTap(series, Timeframe.M15, lambda: woken.append(threading.current_thread().name))
    engine.call(tap.attach).result(5)
    await wait_for(lambda: woken, what="the first update")
    first = tap.take()
    assert first is not None and first.history is not None and len(first.history) == 100
    assert not first.history.flags.writeable  # immutable: the view cannot disturb the engine's window
    assert first.history[-1, 0] == _candle(99).open_time
    assert set(woken) == {"test-engine"} and tap.take() is None

    # 200 forming pushes in one go: one wake-up, one batch, the latest price last
    def push_forming() -> None:
        for k in range(200):
            series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", T0 + 100 * Q, 100, 110, 90, 100 + k * 0.01, 1, False))
    wakes = tap.wakes
    engine.call(push_forming).result(5)
    assert tap.wakes == wakes + 1 and len(woken) == wakes + 1
    update = tap.take()
    assert update is not None and update.history is None and len(update.rows) == 1
    assert update.rows[-1][4] == pytest.approx(101.99) and update.rows[-1][6] is False
    assert tap.take() is None

    # a close and the next forming candle: in order, the closed one marked so
    engine.call(series.on_kline, KlineEvent("bybit", "BTCUSDT", "15m", T0 + 100 * Q, 100, 110, 90, 105, 2, True)
                ).result(5)
    engine.call(series.on_kline, KlineEvent("bybit", "BTCUSDT", "15m", T0 + 101 * Q, 105, 106, 104, 105.5, 1, False)
                ).result(5)
    rows: list = []
    await wait_for(lambda: _rows_into(tap, rows) and not rows[-1][6], what="the close and the next forming")
    assert [(r[0], r[6]) for r in rows][-2:] == [(T0 + 100 * Q, True), (T0 + 101 * Q, False)]

    # detached: the series goes on, the tap hears nothing more
    engine.call(tap.detach).result(5)
    engine.call(series.on_kline, KlineEvent("bybit", "BTCUSDT", "15m", T0 + 101 * Q, 105, 107, 104, 106, 1, False)
                ).result(5)
    await asyncio.sleep(0.15)
    assert tap.take() is None
    writer.close()


_kept: list = []


def _rows_into(tap: SeriesTap, rows: list) -> bool:
    update = tap.take()
    if update is not None:
        rows.extend(update.rows)
    return bool(rows)


def _keep(update) -> bool:
    _kept.append(update)
    return True


async def test_a_burst_of_closes_is_handed_over_as_a_whole_window_and_derived_forming_merges_its_group(
        engine, tmp_path):
    series, writer = _series(tmp_path, 100)  # 100 candles: the last hour group (96..99) is complete
    await engine.run(series.load_history())
    tap = SeriesTap(series, Timeframe.M15, lambda: None, reset_over=10)
    h1 = SeriesTap(series, Timeframe.H1, lambda: None)
    engine.call(tap.attach).result(5)
    engine.call(h1.attach).result(5)
    await wait_for(lambda: tap.take() is not None, what="the first 15m update")
    await wait_for(lambda: h1.take() is not None, what="the first 1h update")

    def burst() -> None:
        for i in range(100, 130):
            series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", T0 + i * Q, 100, 101, 99, 100, 1, True))
    engine.call(burst).result(5)
    await wait_for(lambda: (u := tap.take()) is not None and u.history is not None and _keep(u), what="the burst")
    burst_update = _kept[-1]
    assert burst_update.history is not None  # a copy of the window, not 30 rows
    times = [*burst_update.history[:, 0].tolist(), *(r[0] for r in burst_update.rows)]
    assert times == [T0 + i * Q for i in range(130)][-len(times):]  # then the closes after it, in order

    # the 1h view's forming candle: 128, 129 closed in its group (T0+128Q is a group start), 130 forming
    engine.call(series.on_kline, KlineEvent("bybit", "BTCUSDT", "15m", T0 + 130 * Q, 100, 250, 99, 120, 3, False)
                ).result(5)
    await wait_for(lambda: (u := h1.take()) is not None and any(not r[6] for r in u.rows) and _keep(u),
                   what="the 1h forming candle")
    forming = next(r for r in reversed(_kept[-1].rows) if not r[6])
    assert forming[0] == T0 + 128 * Q and forming[2] == 250 and forming[5] == pytest.approx(1 + 1 + 3)
    writer.close()


async def test_a_started_core_runs_frames_and_closes_on_the_engine_thread_not_the_callers(tmp_path):
    server = SimServer(Market(SimClock(speed=900.0), seed=5, history_days=2), push_interval=0.05)
    await server.start()
    frames_on: set[str] = set()
    real = WsConnection._on_frame

    def spy(self, raw, ws=None):
        frames_on.add(threading.current_thread().name)
        return real(self, raw, ws)

    WsConnection._on_frame = spy
    try:
        settings = settings_from_dict({"data_dir": str(tmp_path), "exchanges": {"okx": {
            "enabled": True, "rest_url": server.rest_url("okx"), "ws_url": server.ws_url("okx"),
            "symbols": ["BTC/USDT:USDT"]}, "bybit": {"enabled": False}}})
        core = build_core(settings, exchanges=["okx"], feed_options={"now_ms": server.market.now_ms})
        series = next(iter(core.feeds["okx"].series.values()))
        closes_on: set[str] = set()
        series.listeners.closed.append(lambda _cc: closes_on.add(threading.current_thread().name))
        await core.start()
        await wait_for(lambda: series.closed_emitted >= 2 and frames_on, timeout=20, what="live closes")
        assert frames_on == {"market-engine"} and closes_on == {"market-engine"}
        assert await core.shutdown()
        assert not core.engine.running
        assert np.all(np.diff(series.candles[Timeframe.M15].array()[:, 0]) == Q)
    finally:
        WsConnection._on_frame = real
        await server.stop()


async def test_a_change_reaches_the_view_while_the_engine_loop_is_held(engine, tmp_path):
    """Nothing waits for the engine's loop to come round (a timer there was late by the whole burst of other
    series' frames at a bucket's close): the view is woken from inside the change and takes it at once."""
    series, writer = _series(tmp_path, 100)
    await engine.run(series.load_history())
    woke, pushed, taken = threading.Event(), threading.Event(), threading.Event()
    tap = SeriesTap(series, Timeframe.M15, woke.set)
    engine.call(tap.attach).result(5)
    await asyncio.to_thread(woke.wait, 5)
    assert tap.take() is not None
    woke.clear()

    def push(close: float) -> None:
        series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", T0 + 100 * Q, 100, 110, 90, close, 1, False))

    def held() -> None:
        push(101.0)
        push(102.0)
        pushed.set()
        assert taken.wait(5), "the view did not take while the loop was held"
        push(103.0)

    done = engine.call(held)
    assert await asyncio.to_thread(pushed.wait, 5) and woke.is_set()
    update = tap.take()
    assert not done.done()  # the engine's loop is still held by the call
    assert update is not None and [r[4] for r in update.rows] == [102.0]
    woke.clear()
    taken.set()
    done.result(5)
    assert woke.is_set() and tap.wakes == 3  # the first look, then one per take
    update = tap.take()
    assert update is not None and update.rows[-1][4] == 103.0 and tap.take() is None
    writer.close()


async def test_after_a_reset_a_forming_row_of_the_bucket_just_closed_is_not_handed_over(tmp_path):
    """The forming tick of bucket b, then b's close, then a history reset in one batch: the update is the window
    ending with b closed, without b's stale forming row after it (the chart would overwrite the close with it)."""
    series, writer = _series(tmp_path, 100)
    await series.load_history()
    tap = SeriesTap(series, Timeframe.M15, lambda: None)
    tap.attach()  # on this loop (no engine)
    assert tap.take() is not None  # the first look
    b = T0 + 100 * Q
    series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", b, 100, 101, 99, 100.5, 1, False))
    series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", b, 100, 102, 99, 101.5, 2, False))
    series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", b, 100, 105, 95, 104.0, 9, True))
    series._emit(series.listeners.history, series)  # e.g. a repaired gap merged into the window
    last = tap.take()
    assert last is not None and tap.take() is None
    assert last.history is not None and last.history[-1].tolist() == [b, 100, 105, 95, 104.0, 9]
    assert all(r[0] > b for r in last.rows), last.rows
    writer.close()


async def test_a_close_confirmed_after_the_next_bar_reached_the_view_comes_as_the_window(tmp_path):
    """Exchanges without a close flag: the next bucket's forming bar reaches the chart before REST confirms the
    previous close; that close is older than the chart's last bar (the chart ignores such rows), so the tap hands
    the window over again, with the final values, and the bar in progress after it."""
    series, writer = _series(tmp_path, 100)
    await series.load_history()
    tap = SeriesTap(series, Timeframe.M15, lambda: None)
    tap.attach()  # on this loop (no engine)
    assert tap.take() is not None
    b = T0 + 100 * Q
    series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", b, 100, 101, 99, 100.5, 1, False))
    assert tap.take().rows[-1][:2] == (b, 100)
    series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", b + Q, 100.5, 101, 100, 100.7, 1, False))  # rollover
    assert tap.take().rows[-1][0] == b + Q
    series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", b, 100, 103, 99, 102.0, 5, True))  # the final b, later
    update = tap.take()
    assert update is not None and update.history is not None
    assert update.history[-1].tolist() == [b, 100, 103, 99, 102.0, 5]
    assert update.rows and update.rows[-1][0] == b + Q and update.rows[-1][6] is False  # the bar in progress
    writer.close()


async def test_a_view_starting_over_gets_the_bar_in_progress_with_the_window(tmp_path):
    series, writer = _series(tmp_path, 100)
    await series.load_history()
    b = T0 + 100 * Q
    series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", b, 100, 101, 99, 100.5, 1, False))
    tap = SeriesTap(series, Timeframe.M15, lambda: None)
    tap.attach()  # a chart opened mid-bucket: the forming bar at once, not at the next tick
    first = tap.take()
    assert first is not None and first.history is not None and first.rows == ((b, 100, 101, 99, 100.5, 1, False),)
    writer.close()
