"""One of the three trading flows (unified, scanner, multi), configured from the trading settings (strategy,
sizes, cadences)."""
from __future__ import annotations

import logging

from .base import Bot, BotContext
from .multi import MultiTrader
from .scanner import AutoScanner
from .unified import UnifiedBot

KINDS = ("unified", "scanner", "multi")
log = logging.getLogger(__name__)


def make_bot(kind: str, trading, t, symbols: list[str] | None, name: str = "", presets=None) -> Bot:
    """`trading`: journal + executor + market (trading_stack.Trading); `t`: config.TradingSettings. Orders are
    sized in the venue's quote currency (the risk guard's `currency`: USDT, or KRW on the KRW venues).
    `presets`: the data dir with `twinstar optimize`'s preset files: the scanner and the multi trader then trade
    the verified ones only, each with its own parameters (None, or no verified preset: as configured)."""
    notional = t.order_notional(getattr(trading.executor, "currency", "USDT"))
    long_only = getattr(trading.market, "long_only", False)  # spot venues: no shorts
    if kind == "unified":
        if not symbols or len(symbols) != 1:
            raise ValueError("the unified bot trades one symbol: give exactly one")
        ctx = BotContext(trading.market, trading.executor, trading.journal, t.strategy, notional, long_only=long_only)
        return UnifiedBot(name or f"unified-{symbols[0]}", ctx, symbols[0])
    if kind == "scanner":
        ctx = BotContext(trading.market, trading.executor, trading.journal, t.strategy, notional, long_only=long_only,
                         presets=_verified(presets, trading.market.exchange, t.strategy))
        return AutoScanner(name or "scanner", ctx, symbols or list(t.scanner_symbols), watch_count=t.scanner_watch,
                           rescan_every_s=t.scanner_rescan_s)
    if kind == "multi":
        ctx = BotContext(trading.market, trading.executor, trading.journal, t.multi_strategy(), notional,
                         long_only=long_only, presets=_verified(presets, trading.market.exchange, t.multi_strategy()))
        return MultiTrader(name or "multi", ctx, top_n=t.multi_top_n, scan_every_s=t.multi_scan_s, symbols=symbols)
    raise ValueError(f"unknown bot {kind!r}; valid: {', '.join(KINDS)}")


def _verified(data_dir, exchange: str, base):
    """The verified presets of `exchange` in `data_dir` ({native: strategy}), or None when there are none."""
    if data_dir is None:
        return None
    from .optimize import verified_strategies

    found, problems = verified_strategies(data_dir, exchange, base)
    for p in problems:
        log.warning("preset refused: %s", p)
    if found:
        log.info("%s: %d verified preset(s): trading only %s, each with its own parameters", exchange, len(found),
                 ", ".join(sorted(found)))
    return found or None
