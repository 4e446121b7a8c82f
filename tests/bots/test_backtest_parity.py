"""Parity: the UnifiedBot paper-trading live against the simulator, and a backtest over the very candles that run
stored, make the same trades (entries, exits, prices, sizes, fees). The price path is a staircase (constant inside
each 15m candle, a jump at each boundary): the live run then sees exactly the prices a candle-based replay can know
of, so any difference is a difference of the two engines, not of the data."""
import asyncio
from dataclasses import replace

import numpy as np
import pytest
from scripted import trading_env
from waiting import wait_for

from twinstar_gui.bots.base import BotThread
from twinstar_gui.bots.runner import run_backtest
from twinstar_gui.bots.unified import UnifiedBot
from twinstar_gui.config import Settings, TradingSettings
from twinstar_gui.core.metrics import trades_of
from twinstar_gui.core.strategy import StrategyConfig
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import DAY_MS, Market

pytestmark = pytest.mark.e2e
STEP = 900_000
SYM = "ETHUSDT"
STRATEGY = StrategyConfig(rsi_timeframe=Timeframe.M15, take_profit_pct=0.8, stop_loss_pct=0.6)


def staircase_market(speed: float = 900.0) -> Market:
    """ETHUSDT: a seeded random walk of 15m steps, flat inside each candle (O = H = L = C). At x900 a candle lasts
    1 s: a bot thread slowed by a busy machine still acts inside the candle after the close it trades on."""
    market = Market(SimClock(speed=speed), seed=5, history_days=4)
    rng = np.random.default_rng(11)
    t, p = market.genesis, market.spec(SYM).price
    times, prices = [t], [p]
    while t < market.now_ms() + 2 * DAY_MS:
        nxt = t + STEP
        times.append(nxt - market.step_ms)
        prices.append(p)
        p *= 1 + 0.003 * rng.standard_normal()
        times.append(nxt)
        prices.append(p)
        t = nxt
    market.script(SYM, times, prices)
    return market


def key(t):
    return (t.side, t.entry_ms // STEP, t.exit_ms // STEP, round(t.entry_price, 6), round(t.exit_price, 6),
            round(t.qty, 9), round(t.fees, 9))


async def test_a_live_paper_run_and_a_backtest_of_its_candles_make_the_same_trades(tmp_path, qapp):
    market = await asyncio.to_thread(staircase_market)
    async with trading_env(tmp_path, [SYM], {}, feed_symbols=[SYM], market=market) as (sim, core, ctx):
        ctx.strategy = STRATEGY
        bot = UnifiedBot("unified-parity", ctx, SYM, health_every_s=3600)
        thread = BotThread(bot, tick=0.2)
        thread.start()
        try:
            await wait_for(lambda: len(trades_of(sorted(ctx.journal.fills("paper"), key=lambda f: f.time_ms))) >= 2,
                           timeout=120, what="two round trips live")
        finally:
            await asyncio.to_thread(thread.stop)
        live = trades_of(sorted(ctx.journal.fills("paper"), key=lambda f: f.time_ms))
        last_exit = live[-1].exit_ms - live[-1].exit_ms % STEP
        series = core.feeds["bybit"].series[SYM]
        await wait_for(lambda: (series.last_closed or 0) >= last_exit, what="the last exit's candle closed")
        data_dir = core.settings.data_dir
    # the backtest: the candles the live run stored, from the candle whose close gave the first entry
    start = live[0].entry_ms - live[0].entry_ms % STEP - STEP
    end = last_exit + STEP - 1
    trading = replace(TradingSettings(), strategy=STRATEGY)
    out = run_backtest(Settings(data_dir, trading=trading), trading, "bybit", "unified", [SYM], start, end)
    run_end = out.result.equity[-1][0]
    replayed = [t for t in out.trades if t.exit_ms < run_end]  # not one the end of the run closes
    assert len(live) >= 2
    assert [key(t) for t in replayed[:len(live)]] == [key(t) for t in live], (live, out.trades)
