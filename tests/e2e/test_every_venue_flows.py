"""Every flow on every venue: the AutoScanner and the MultiTrader find candidates and paper-trade on each of the
seven simulated exchanges through the app's own wiring (catalog, paper executor with the catalog's rules, risk
guard and order size in the venue's currency); the default presets (base assets) resolve on each.

Scripted prices (see tests/bots/scripted.py): SOL and BTC trend on 4h groups (a long setup whose take profit
comes a few simulated hours later), everything else is flat. The KRW venues price the same process in KRW on their
own ticks. A 50-symbol stage 1 takes longer than the scripted trend lasts at x3600 on the venues that page slowly
(Bithumb: 3 pages x 50 symbols at 2 requests/s), so the bots here are given a few symbols as a user types them."""
import asyncio
import contextlib

import pytest
from scripted import scripted_market
from waiting import wait_for

from twinstar_gui.bots.base import BotThread
from twinstar_gui.config import settings_from_dict
from twinstar_gui.exchanges.registry import VENUES
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.sim.server import SimServer
from twinstar_gui.trading_stack import build_trading, make_bot
from twinstar_gui.wiring import build_core

pytestmark = pytest.mark.e2e
TYPED = ["sol", "BTC", "eth", "MATIC", "RNDR"]  # as a user types them; MATIC is delisted, RNDR renamed RENDER


def closed_trades(journal, executor: str) -> dict[str, list]:
    """symbol -> its fills, for symbols with an entry and an exit."""
    by_symbol: dict[str, list] = {}
    for f in sorted(journal.fills(executor), key=lambda f: f.time_ms):
        by_symbol.setdefault(f.symbol, []).append(f)
    return {s: fills for s, fills in by_symbol.items() if len(fills) >= 2}


@contextlib.asynccontextmanager
async def venue_env(tmp_path, exchange, trading_settings=None):
    """Scripted simulator + the app's core and paper trading stack for one venue, on the simulator's clock."""
    # the KRW venues page 200 candles at a time within a small request budget: their simulated clock runs
    # slower, so the scripted 4h groups do not move on while a scan reads them
    speed = 3600.0 if VENUES[exchange].quote == "USDT" else 900.0
    market = await asyncio.to_thread(scripted_market, {"SOLUSDT": {}, "BTCUSDT": {}}, 3, speed)
    server = SimServer(market, push_interval=0.05)
    await server.start()
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "trading": trading_settings or {},
                                   "exchanges": {"bybit": {"enabled": exchange == "bybit"}, exchange: {
                                       "enabled": True, "rest_url": server.rest_url(exchange),
                                       "ws_url": server.ws_url(exchange)}}})
    core = build_core(settings, exchanges=[exchange],
                      feed_options={"policy": ReconnectPolicy(base=0.1, jitter=0.0), "now_ms": market.now_ms})
    await core.start()
    trading = build_trading(core, exchange, clock=market.now_ms)
    threads = []
    try:
        yield settings, core, trading, threads
    finally:
        for t in threads:
            await asyncio.to_thread(t.stop)
        await trading.stop()
        await core.shutdown(budget=5.0)
        trading.journal.close()
        await server.stop()


def check_trades(trades, orders, bot, catalog, settings, quote, *, profit=True):
    assert trades, "no closed trade"
    assert {o.bot for o in orders if not o.reduce_only} == {bot}
    assert {catalog.by_native(s).base for s in trades} <= {"SOL", "BTC"}, trades
    for symbol, fills in trades.items():
        entry, exit_ = fills[0], fills[1]
        assert entry.side == "buy" and exit_.side == "sell" and (exit_.realized_pnl > 0 or not profit), fills
        inst = catalog.by_native(symbol)
        lot_value = inst.lot_size * inst.contract_size * entry.price
        wanted = settings.trading.order_notional(quote)  # 100 USDT, or 100,000 KRW on the KRW venues
        # sized at the signal's price, filled a tick or two later (and 2 bps of slippage), rounded down to the lot
        assert wanted * 0.99 - lot_value < entry.qty * entry.price <= wanted * 1.01, (symbol, entry, lot_value)


@pytest.mark.parametrize("exchange", list(VENUES))
async def test_the_scanner_finds_candidates_and_paper_trades_on_every_venue(tmp_path, qapp, exchange):
    quote = VENUES[exchange].quote
    async with venue_env(tmp_path, exchange) as (settings, core, trading, threads):
        assert settings.trading.scanner_symbols[:3] == ("BTC", "ETH", "SOL")  # the default presets: base assets
        resolved, missing = await asyncio.to_thread(trading.market.resolve, list(settings.trading.scanner_symbols))
        assert len(resolved) == len(settings.trading.scanner_symbols) and not missing, missing  # all listed here
        scanner = make_bot("scanner", trading, settings, TYPED)
        threads.append(BotThread(scanner, tick=0.2))
        threads[-1].start()
        await wait_for(lambda: scanner.scans >= 1, timeout=60, what=f"{exchange}: the scanner's first scan")
        rows = scanner.snapshot().candidates
        listed = {c.unified for c in rows if not c.status.startswith("not on")}
        assert listed == ({"SOL/USDT:USDT", "BTC/USDT:USDT"} if quote == "USDT" else {"SOL/KRW", "BTC/KRW"}), rows
        assert {(c.unified, c.status) for c in rows if c.status.startswith("not on")} == {
            ("MATIC", f"not on {exchange}"), ("RNDR", f"not on {exchange}")}
        journal, name = trading.journal, trading.executor.name
        await wait_for(lambda: closed_trades(journal, name), timeout=90,
                       what=f"{exchange}: the scanner's entry closed at take profit")
        trades, orders = closed_trades(journal, name), journal.orders(name)
        check_trades(trades, orders, "scanner", core.catalogs[exchange].catalog, settings, quote)
        assert trading.executor.currency == quote
        signal = scanner.snapshot().last_signal  # what the Bots tab and the log say: the unified symbol
        assert signal.startswith("long ") and signal.split()[1] in listed, signal


@pytest.mark.parametrize("exchange", list(VENUES))
async def test_the_multi_trader_finds_candidates_and_paper_trades_on_every_venue(tmp_path, qapp, exchange):
    quote = VENUES[exchange].quote
    # two settings not at their defaults, for the scripted prices: the RSI on the 4h groups the script shapes
    # (the default, 15m, would need a 15m-shaped script) and a scan a second (30 s is 2 simulated hours at x3600)
    async with venue_env(tmp_path, exchange, {"multi_scan_s": 1.0, "multi_rsi_timeframe": "4h"}) as (
            settings, core, trading, threads):
        multi = make_bot("multi", trading, settings, TYPED)
        threads.append(BotThread(multi, tick=0.2))
        threads[-1].start()
        journal, name = trading.journal, trading.executor.name
        await wait_for(lambda: closed_trades(journal, name), timeout=90,
                       what=f"{exchange}: the multi trader's entry closed")
        rows = multi.snapshot().candidates
        trades, orders = closed_trades(journal, name), journal.orders(name)
        catalog = core.catalogs[exchange].catalog
        assert rows and {catalog.by_native(c.symbol).base for c in rows} <= {"SOL", "BTC"}, rows
        # (the multi trader may come in late in the scripted move: its exit is TP or SL, not necessarily a gain)
        check_trades(trades, orders, "multi", catalog, settings, quote, profit=False)
