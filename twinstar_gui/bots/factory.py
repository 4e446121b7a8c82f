"""One of the three trading flows (unified, scanner, multi), configured from the trading settings (strategy,
sizes, cadences)."""
from __future__ import annotations

from .base import Bot, BotContext
from .multi import MultiTrader
from .scanner import AutoScanner
from .unified import UnifiedBot

KINDS = ("unified", "scanner", "multi")


def make_bot(kind: str, trading, t, symbols: list[str] | None, name: str = "") -> Bot:
    """`trading`: journal + executor + market (trading_stack.Trading); `t`: config.TradingSettings. Orders are
    sized in the venue's quote currency (the risk guard's `currency`: USDT, or KRW on the KRW venues)."""
    notional = t.order_notional(getattr(trading.executor, "currency", "USDT"))
    long_only = getattr(trading.market, "long_only", False)  # spot venues: no shorts
    if kind == "unified":
        if not symbols or len(symbols) != 1:
            raise ValueError("the unified bot trades one symbol: give exactly one")
        ctx = BotContext(trading.market, trading.executor, trading.journal, t.strategy, notional, long_only=long_only)
        return UnifiedBot(name or f"unified-{symbols[0]}", ctx, symbols[0])
    if kind == "scanner":
        ctx = BotContext(trading.market, trading.executor, trading.journal, t.strategy, notional, long_only=long_only)
        return AutoScanner(name or "scanner", ctx, symbols or list(t.scanner_symbols), watch_count=t.scanner_watch,
                           rescan_every_s=t.scanner_rescan_s)
    if kind == "multi":
        ctx = BotContext(trading.market, trading.executor, trading.journal, t.multi_strategy(), notional,
                         long_only=long_only)
        return MultiTrader(name or "multi", ctx, top_n=t.multi_top_n, scan_every_s=t.multi_scan_s, symbols=symbols)
    raise ValueError(f"unknown bot {kind!r}; valid: {', '.join(KINDS)}")
