"""Each bot flow end to end over loopback: scripted prices -> simulator -> streams/REST -> bot thread ->
paper executor -> journal; a known entry and a take-profit exit."""
import asyncio

import pytest
from scripted import trading_env
from waiting import wait_for

from twinstar_gui.bots.base import BotThread
from twinstar_gui.bots.multi import MultiTrader
from twinstar_gui.bots.scanner import AutoScanner
from twinstar_gui.bots.unified import UnifiedBot
from twinstar_gui.sim.market import DEFAULT_SYMBOLS

pytestmark = pytest.mark.e2e


def trade_of(journal, symbol):
    fills = sorted((f for f in journal.fills("paper") if f.symbol == symbol), key=lambda f: f.time_ms)
    return fills


async def run_until_tp(bot, journal, symbol, timeout=40.0):
    thread = BotThread(bot, tick=0.2)
    thread.start()
    try:
        await wait_for(lambda: len(trade_of(journal, symbol)) >= 2, timeout=timeout, what=f"{symbol} entry + exit")
    finally:
        await asyncio.to_thread(thread.stop)
    return trade_of(journal, symbol)


def assert_long_closed_at_take_profit(fills, ctx):
    entry, exit_ = fills[0], fills[1]
    assert entry.side == "buy" and exit_.side == "sell" and exit_.qty == entry.qty
    assert exit_.realized_pnl > 0
    order = next(o for o in ctx.journal.orders("paper") if o.id == entry.order_id)
    signal_price = order.price
    assert order.take_profit == pytest.approx(signal_price * 1.02)
    assert order.stop_loss == pytest.approx(signal_price * 0.99)
    # closed at market on the first price after the take profit was touched (2 bps paper slippage)
    assert order.take_profit * 0.9997 <= exit_.price < order.take_profit * 1.01, (exit_.price, order.take_profit)
    lot = ctx.executor.rules(entry.symbol).lot_size
    # lot-rounded
    assert ctx.order_notional - lot * signal_price * 1.01 < entry.qty * signal_price <= ctx.order_notional * 1.01


async def test_unified_bot_enters_on_a_closed_candle_and_takes_profit(tmp_path, qapp):
    async with trading_env(tmp_path, ["ETHUSDT"], {"ETHUSDT": {}}, feed_symbols=["ETHUSDT"]) as (sim, core, ctx):
        bot = UnifiedBot("unified-eth", ctx, "ETHUSDT", health_every_s=0.5)
        fills = await run_until_tp(bot, ctx.journal, "ETHUSDT")
        assert_long_closed_at_take_profit(fills, ctx)
        status = bot.snapshot()
        assert status.entries >= 1 and "4h RSI" in status.last_signal and status.state == "stopped"
        assert bot.health_checks >= 1 and bot.rest_polls == 0  # the stream was healthy at every check
        orders = ctx.journal.orders("paper")
        assert any(o.bot == "unified-eth" and o.take_profit for o in orders)


async def test_unified_bot_polls_rest_when_its_stream_is_unhealthy(tmp_path, qapp):
    async with trading_env(tmp_path, ["ETHUSDT"], {}, feed_symbols=["ETHUSDT"], heartbeat_interval=0.5,
                           max_silence=1.0) as (sim, core, ctx):
        bot = UnifiedBot("unified-eth", ctx, "ETHUSDT", health_every_s=0.3)
        thread = BotThread(bot, tick=0.1)
        thread.start()
        try:
            await wait_for(lambda: bot.snapshot().state == "running", what="bot running")
            sim.freeze()  # socket open, nothing flows: unhealthy
            await wait_for(lambda: bot.rest_polls >= 1, timeout=20, what="REST poll at a health check")
            assert "unhealthy" in bot.snapshot().detail
            sim.freeze(False)
        finally:
            await asyncio.to_thread(thread.stop)


async def test_auto_scanner_two_stages_entry_and_exit(tmp_path, qapp):
    presets = list(DEFAULT_SYMBOLS)[:50]
    trends = {"SOLUSDT": {}, "LINKUSDT": {"up": 1.004, "down": 0.998}}  # SOL's RSI moves harder: ranked first
    async with trading_env(tmp_path, presets, trends) as (sim, core, ctx):
        bot = AutoScanner("scanner", ctx, presets, watch_count=5, rescan_every_s=3600)
        thread = BotThread(bot, tick=0.2)
        thread.start()
        try:
            await wait_for(lambda: bot.scans >= 1, timeout=30, what="stage 1 scan")
            assert not bot.scan_errors
            every = bot.snapshot().candidates
            rows = [c for c in every if not c.status.startswith("not on")]
            assert sorted(c.symbol for c in rows) == ["LINKUSDT", "SOLUSDT"]  # the flat ones are no candidates
            assert all(c.side == "long" and 30 < c.rsi < 70 for c in rows)
            assert {c.unified for c in rows} == {"LINK/USDT:USDT", "SOL/USDT:USDT"}
            # presets the exchange no longer lists (delisted MATIC, RNDR renamed RENDER): left out, shown as such
            assert {(c.unified, c.status) for c in every if c not in rows} == {
                ("MATICUSDT", "not on bybit"), ("RNDRUSDT", "not on bybit")}
            assert set(bot.not_listed) == {"MATICUSDT", "RNDRUSDT"} and "MATICUSDT" not in bot.symbols
            await wait_for(lambda: len(trade_of(ctx.journal, "SOLUSDT")) >= 2, timeout=40, what="SOL entry + TP exit")
            assert "SOLUSDT" not in bot.setups  # its stage-2 watch closed after the entry
        finally:
            await asyncio.to_thread(thread.stop)
        assert_long_closed_at_take_profit(trade_of(ctx.journal, "SOLUSDT"), ctx)


async def test_multi_trader_rotates_on_the_top_symbols(tmp_path, qapp):
    trends = {"BTCUSDT": {}, "XRPUSDT": {"up": 1.004, "down": 0.998}}
    async with trading_env(tmp_path, [], trends) as (sim, core, ctx):
        bot = MultiTrader("multi", ctx, top_n=50, scan_every_s=1.0, max_positions=1)
        thread = BotThread(bot, tick=0.2)
        thread.start()
        try:
            await wait_for(lambda: bot.trades_closed >= 1, timeout=40, what="an entry, a TP exit, seen by the bot")
            rows = bot.snapshot().candidates
        finally:
            await asyncio.to_thread(thread.stop)
        fills = trade_of(ctx.journal, "BTCUSDT")  # the strongest RSI move of the top 50
        assert_long_closed_at_take_profit(fills, ctx)
        assert {c.symbol for c in rows} <= {"BTCUSDT", "XRPUSDT"}  # only the trending ones are candidates
        entries = [o for o in ctx.journal.orders("paper") if not o.reduce_only]
        first_exit = fills[1].time_ms
        assert len([o for o in entries if o.created_ms <= first_exit]) == 1  # one position at a time


async def test_an_exchange_out_of_reach_does_not_stop_a_bot(tmp_path, qapp):
    """The MultiTrader's scan needs REST (top symbols, candles, prices): while the exchange refuses connections
    the bot says why and keeps running; once it answers, the next scan goes through. (A network error used to
    stop the bot for good, as a bug would.)"""
    from support.proxy import FlakyProxy

    from twinstar_gui.bots.base import BotContext
    from twinstar_gui.bots.market import LiveMarket
    from twinstar_gui.config import settings_from_dict
    from twinstar_gui.core.risk_limits import RiskLimits
    from twinstar_gui.execution.paper import PaperExecutor
    from twinstar_gui.execution.risk import RiskGuard
    from twinstar_gui.execution.trade_journal import Journal
    from twinstar_gui.net.backoff import ReconnectPolicy
    from twinstar_gui.sim.clock import SimClock
    from twinstar_gui.sim.market import Market
    from twinstar_gui.sim.server import SimServer
    from twinstar_gui.wiring import build_core

    server = SimServer(Market(SimClock(speed=60.0), seed=4, history_days=5), push_interval=0.05)
    await server.start()
    proxy = FlakyProxy(server.port)  # refusing
    via = lambda url: url.replace(f":{server.port}/", f":{proxy.port}/")
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "exchanges": {"bybit": {
        "rest_url": via(server.rest_url("bybit")), "ws_url": via(server.ws_url("bybit")), "symbols": ["BTCUSDT"]}}})
    core = build_core(settings, feed_options={"policy": ReconnectPolicy(base=0.2, cap=0.5, jitter=0.0,
                                                                          max_tries=1000)})
    journal = Journal(tmp_path / "journal.sqlite3")
    risk = RiskGuard(PaperExecutor(journal), journal, RiskLimits())
    await core.start()
    live = LiveMarket(core.feeds["bybit"], asyncio.get_running_loop(), risk)
    live.start()
    bot = MultiTrader("multi-x", BotContext(live, risk, journal), top_n=5, scan_every_s=0.5)
    thread = BotThread(bot, tick=0.1)
    thread.start()
    try:
        await wait_for(lambda: any("cannot connect" in e for e in bot.snapshot().errors), what="the outage told")
        await asyncio.sleep(1.0)  # several scans fail meanwhile
        assert bot.snapshot().state == "running" and bot.scans == 0
        proxy.forward()
        # a scan counts once the top symbols, their candles and the prices all came in
        await wait_for(lambda: bot.scans >= 1, timeout=30, what="a scan once the exchange answers")
        assert bot.snapshot().state == "running"
    finally:
        await asyncio.to_thread(thread.stop)
        await live.close()
        await core.shutdown()
        journal.close()
        proxy.close()
        await server.stop()
