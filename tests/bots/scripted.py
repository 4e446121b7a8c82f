"""Price paths with a known outcome for bot tests: everything flat except the symbols given a trend."""
import asyncio
import contextlib
import time

from twinstar_gui.bots.base import BotContext
from twinstar_gui.bots.market import LiveMarket
from twinstar_gui.config import settings_from_dict
from twinstar_gui.core.risk_limits import RiskLimits
from twinstar_gui.core.strategy import StrategyConfig
from twinstar_gui.execution.base import InstrumentRules
from twinstar_gui.execution.paper import PaperExecutor
from twinstar_gui.execution.risk import RiskGuard
from twinstar_gui.execution.trade_journal import Journal
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer
from twinstar_gui.wiring import build_core

H4 = 4 * 3_600_000
SPEED = 3600.0  # a 15m candle every 0.25 s, a 4h group every 4 s


def script_trend(market, symbol, up=1.010, down=0.994, future=1.015, future_groups=6, start=None):
    """4h groups alternating up/down before now (the one just before now's group up, so the 4h RSI is
    ~60 and rising), then `future` per group: a long setup whose breakout triggers at once and whose
    take profit (2 %) is reached about 1.3 groups later."""
    now = market.now_ms()
    g_now = now - now % H4
    price = start or market.spec(symbol).price
    times, prices = [market.genesis], [price]
    g = market.genesis
    while g < g_now + future_groups * H4:
        end = g + H4
        if end <= g_now:
            k = (g_now - end) // H4
            price *= up if k % 2 == 0 else down
        else:
            price *= future
        times.append(end)
        prices.append(price)
        g = end
    market.script(symbol, times, prices)


def script_flat(market, symbol):
    now = market.now_ms()
    market.script(symbol, [market.genesis, now + 30 * H4], [market.spec(symbol).price] * 2)


def scripted_market(trends: dict, seed: int = 3, speed: float = SPEED) -> Market:
    """Every symbol flat except `trends` (symbol -> script_trend options), scripted just after a 4h boundary
    of the simulated clock: at x3600 a group lasts 4 s, and then the bots' first scan sees the same complete
    groups in every run. From a random phase the "future" group holding `now` sometimes completed before the
    scan, pushing a candidate's RSI past 70 depending on the time of day. Blocks for up to 3.5 s."""
    market = Market(SimClock(speed=speed), seed=seed, history_days=12)
    while market.now_ms() % H4 > H4 // 8:
        time.sleep(0.02)
    for sym in market.symbols:
        if sym in trends:
            script_trend(market, sym, **trends[sym])
        else:
            script_flat(market, sym)
    return market


@contextlib.asynccontextmanager
async def trading_env(tmp_path, symbols, trends, *, feed_symbols=None, limits=None, seed=3, trade_api=False,
                      market=None, **feed_options):
    """Simulator with scripted prices + core (feeds, store) + paper executor behind risk limits.
    trade_api: the REST base is the simulator's signed trading port (which serves the public routes too).
    market: a Market of the caller's (its prices scripted already) instead of `trends`."""
    if market is None:
        market = await asyncio.to_thread(scripted_market, trends, seed)
    server = SimServer(market, push_interval=0.05)
    await server.start()
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "exchanges": {"bybit": {
        "rest_url": server.trade_url("bybit") if trade_api else server.rest_url("bybit"),
        "ws_url": server.ws_url("bybit"), "symbols": feed_symbols or ["BTCUSDT"]}}})
    core = build_core(settings, feed_options={"policy": ReconnectPolicy(base=0.1, jitter=0.0), **feed_options})
    journal = Journal(tmp_path / "journal.sqlite3")
    rules = lambda s: InstrumentRules(s, market.tick_size(s), market.lot_size(s), market.lot_size(s))
    paper = PaperExecutor(journal, rules=rules, clock=market.now_ms)
    risk = RiskGuard(paper, journal, limits or RiskLimits(max_position_usdt=1_000, max_open_positions=3,
                                                          daily_loss_limit_usdt=500))
    await core.start()
    live = LiveMarket(core.feeds["bybit"], asyncio.get_running_loop(), risk, clock=market.now_ms)
    live.start()
    ctx = BotContext(live, risk, journal, StrategyConfig(), order_notional=100.0)
    try:
        yield server, core, ctx
    finally:
        await live.close()
        await core.shutdown(budget=5.0)
        journal.close()
        await server.stop()
