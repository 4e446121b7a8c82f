"""Settings applied at run time to a running Core against the simulator on loopback: an exchange and symbols added,
a symbol removed (and one a bot holds kept until released), an exchange disabled, the 15m window grown from the
candles on disk; a symbol the exchange does not list is reported while the rest applies, and the other series
keep closing candles throughout."""
import asyncio
import contextlib
from collections import Counter
from dataclasses import replace
from types import MappingProxyType

import numpy as np
import pytest
from waiting import wait_for

from twinstar_gui.config import ExchangeSettings, settings_from_dict
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.data.manager import frame_of
from twinstar_gui.live_settings import apply_settings
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer
from twinstar_gui.wiring import build_core

pytestmark = pytest.mark.e2e
Q = Timeframe.M15.ms
M15 = Timeframe.M15


class Closes:
    """Closed 15m candles per (exchange, native), from every series the core streams now or later."""

    def __init__(self, core):
        self.core = core
        self.count: Counter = Counter()
        self._hooked: set[int] = set()

    def hook(self):
        for feed in list(self.core.feeds.values()):  # copies: the engine's thread adds and drops them
            for s in list(feed.series.values()):
                if id(s) not in self._hooked:
                    self._hooked.add(id(s))
                    s.listeners.closed.append(self._on_closed)

    def _on_closed(self, ev):
        if ev.timeframe is M15 and ev.source == "ws":
            self.count[(ev.exchange, ev.symbol)] += 1

    async def more(self, *keys, n=2, timeout=20.0):
        """Each of `keys` closes `n` more candles from the stream."""
        self.hook()
        start = {k: self.count[k] for k in keys}

        def done():
            self.hook()
            return all(self.count[k] >= start[k] + n for k in keys)
        await wait_for(done, timeout=timeout, what=f"{n} more closed candles of {keys}")


def with_exchange(settings, name, **fields):
    exchanges = dict(settings.exchanges)
    values = {**fields, "symbols": tuple(fields["symbols"])} if "symbols" in fields else fields
    exchanges[name] = replace(exchanges.get(name, ExchangeSettings()), **values)
    return replace(settings, exchanges=MappingProxyType(exchanges))


@contextlib.asynccontextmanager
async def running_core(tmp_path):
    market = Market(SimClock(speed=3600.0), seed=5, history_days=3)
    server = SimServer(market, push_interval=0.05)
    await server.start()
    sim = {name: {"rest_url": server.rest_url(name), "ws_url": server.ws_url(name)} for name in ("bybit", "okx")}
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "window_15m": 150, "exchanges": {
        "bybit": {**sim["bybit"], "enabled": True, "symbols": ["BTC/USDT:USDT", "ETH/USDT:USDT"]},
        "okx": {**sim["okx"], "enabled": False, "symbols": ["BTC/USDT:USDT"]}}})
    core = build_core(settings, feed_options={"policy": ReconnectPolicy(base=0.1, jitter=0.0),
                                              "now_ms": market.now_ms})
    # 280 closed BTC candles on disk: more than the first window holds, for the window to grow into
    now = market.now_ms()
    stored = market.closed_candles("BTCUSDT", Q, now - now % Q - 280 * Q, now - now % Q)
    await asyncio.to_thread(core.store.append, "bybit", "BTCUSDT", frame_of(stored), source="rest")
    await core.start()
    try:
        yield core, settings, market
    finally:
        await core.shutdown(budget=3.0)
        await server.stop()


def topics(feed, native):
    return set(feed.topics_for(native))


def subscribed(feed, native):
    """Referenced in the hub and carried by one of its connections."""
    ts = topics(feed, native)
    return ts <= set(feed.hub.refs) and all(any(t in c.topics for c in feed.hub.connections) for t in ts)


def released(feed, native):
    ts = topics(feed, native)
    return not ts & set(feed.hub.refs) and not any(ts & set(c.topics) for c in feed.hub.connections)


async def test_exchanges_symbols_and_windows_change_while_streaming(tmp_path, qapp):
    async with running_core(tmp_path) as (core, settings, market):
        bybit = core.feeds["bybit"]
        closes = Closes(core)
        btc, eth = ("bybit", "BTCUSDT"), ("bybit", "ETHUSDT")
        await wait_for(lambda: all(not s.sync.busy for s in bybit.series.values()), what="history at start")
        await closes.more(btc, eth)
        assert list(core.feeds) == ["bybit"] and subscribed(bybit, "ETHUSDT")

        # (a) SOL and okx added; FOO is not listed on bybit: told, the rest applies
        first = with_exchange(settings, "bybit", symbols=["BTC/USDT:USDT", "ETH/USDT:USDT", "sol", "FOO"])
        first = with_exchange(first, "okx", enabled=True)
        change = await apply_settings(core, first)
        assert change.exchanges_added == ("okx",)
        assert set(change.symbols_added) == {("bybit", "SOLUSDT"), ("okx", "BTC-USDT-SWAP")}
        assert len(change.failures) == 1 and "bybit" in change.failures[0] and "'FOO'" in change.failures[0]
        assert "bybit SOL/USDT:USDT" in change.text() and "okx added" in change.text() and "1 failed" in change.text()
        assert core.settings is first
        okx = core.feeds["okx"]
        assert "okx" in core.catalogs and subscribed(bybit, "SOLUSDT") and subscribed(okx, "BTC-USDT-SWAP")
        assert "FOO" not in str(list(bybit.series))
        sol, okx_btc = bybit.series["SOLUSDT"], okx.series["BTC-USDT-SWAP"]
        await wait_for(lambda: len(sol.candles[M15]) == 150 and len(okx_btc.candles[M15]) == 150, timeout=20,
                       what="the new series' history")
        for s, name in ((sol, "SOLUSDT"), (okx_btc, "BTCUSDT")):  # the simulator's own candles, gap-free
            opens = s.candles[M15].array()[:, 0].astype(np.int64)
            assert (np.diff(opens) == Q).all()
            truth = {c.open_time: c.close for c in market.closed_candles(name, Q, int(opens[0]), int(opens[-1]) + Q)}
            assert s.candles[M15][-1].close == pytest.approx(truth[int(opens[-1])])
        sol_id = ("bybit", "SOLUSDT")
        await closes.more(btc, eth, sol_id, ("okx", "BTC-USDT-SWAP"))

        # (b) ETH removed from the settings while a bot holds it: streamed until the bot lets go
        await core.on_engine(bybit.add_symbol("ETHUSDT"))  # as a bot watching ETH does
        second = with_exchange(first, "bybit", symbols=["BTC/USDT:USDT", "SOL/USDT:USDT"])
        change = await apply_settings(core, second)
        assert change.symbols_held == (eth,) and not change.symbols_removed and not change.failures
        assert "ETHUSDT" in bybit.series and subscribed(bybit, "ETHUSDT")
        await closes.more(btc, eth, sol_id)
        await core.on_engine(bybit.remove_symbol("ETHUSDT"))  # the bot stops
        assert "ETHUSDT" not in bybit.series and released(bybit, "ETHUSDT")
        # a symbol removed with no one holding it stops at once
        third = with_exchange(second, "bybit", symbols=["BTC/USDT:USDT"])
        change = await apply_settings(core, third)
        assert change.symbols_removed == (sol_id,) and "stopped bybit SOL/USDT:USDT" in change.text()
        assert "SOLUSDT" not in bybit.series and released(bybit, "SOLUSDT")
        stopped = {k: closes.count[k] for k in (eth, sol_id)}
        await closes.more(btc, ("okx", "BTC-USDT-SWAP"), n=3)
        assert {k: closes.count[k] for k in (eth, sol_id)} == stopped  # removed series close nothing more

        # (c) okx disabled: its streams stop and it leaves the core; bybit goes on
        fourth = with_exchange(third, "okx", enabled=False)
        change = await apply_settings(core, fourth)
        assert change.exchanges_removed == ("okx",) and not change.failures
        assert "okx" not in core.feeds and "okx" not in core.catalogs
        assert okx.rest.closed and all(not c.topics or c._task is None or c._task.done()
                                       for c in okx.hub.connections)
        okx_closed = closes.count[("okx", "BTC-USDT-SWAP")]
        await closes.more(btc, n=3)
        assert closes.count[("okx", "BTC-USDT-SWAP")] == okx_closed

        # (d) the 15m window grows: filled from the candles on disk at once, and streaming goes on
        series = bybit.series["BTCUSDT"]
        assert len(series.candles[M15]) == 150
        fifth = replace(fourth, window_15m=250)
        change = await apply_settings(core, fifth)
        assert change.windows == (("15m", 150, 250),) and not change.failures
        window = series.candles[M15]
        opens = window.array()[:, 0].astype(np.int64)
        assert window.maxlen == 250 and len(window) == 250 and (np.diff(opens) == Q).all()
        assert opens[-1] == series.last_closed
        await closes.more(btc)
        assert len(series.candles[M15]) == 250 and series.candles[M15][-1].open_time == series.last_closed
        # a later series gets the new window too
        change = await apply_settings(core, with_exchange(fifth, "bybit", symbols=["BTC/USDT:USDT", "ETH"]))
        assert change.symbols_added == (eth,) and bybit.series["ETHUSDT"].windows[M15] == 250


async def test_an_unreachable_exchange_is_reported_and_the_others_keep_streaming(tmp_path, qapp):
    async with running_core(tmp_path) as (core, settings, market):
        bybit = core.feeds["bybit"]
        closes = Closes(core)
        await closes.more(("bybit", "BTCUSDT"))
        dead = with_exchange(settings, "okx", enabled=True, rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9")
        dead = with_exchange(dead, "bybit", symbols=["BTC/USDT:USDT", "ETH/USDT:USDT", "XRP/USDT:USDT"])
        change = await apply_settings(core, dead)
        assert any(f.startswith("okx: unreachable") for f in change.failures), change.failures
        assert ("bybit", "XRPUSDT") in change.symbols_added
        # it is started anyway (its streams retry); the others never stopped
        assert "okx" in core.feeds and core.feeds["bybit"] is bybit
        await closes.more(("bybit", "BTCUSDT"), ("bybit", "XRPUSDT"))


async def test_two_changes_given_at_once_apply_one_after_the_other(tmp_path, qapp):
    """OK pressed twice while the first change is still starting okx: one okx feed is built and started, the
    second change finds it there (no second feed left streaming outside the core)."""
    from twinstar_gui.wiring import build_feed

    built = []

    def counting(core, name, settings, *args, **kwargs):
        built.append(name)
        return build_feed(core, name, settings, *args, **kwargs)

    async with running_core(tmp_path) as (core, settings, _market):
        added = with_exchange(settings, "okx", enabled=True)
        first, second = await asyncio.gather(apply_settings(core, added, build_feed=counting),
                                             apply_settings(core, added, build_feed=counting))
        assert first.exchanges_added == ("okx",) and second.exchanges_added == ()
        assert built == ["okx"] and not first.failures and not second.failures
        removed = with_exchange(added, "okx", enabled=False)
        first, second = await asyncio.gather(apply_settings(core, removed), apply_settings(core, removed))
        assert first.exchanges_removed == ("okx",) and second.exchanges_removed == () and not second.failures
        assert list(core.feeds) == ["bybit"]
