"""`twinstar bot unified|scanner|multi`: the trading flows headless (no Qt), paper by default."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from .cliargs import SECONDS, add_account_flags, symbol_list
from .collector import data_dir_setting
from .headless import stop_event, ticks
from .trading_stack import build_trading, make_bot
from .wiring import build_core, check_data_dir

log = logging.getLogger("twinstar.bot")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twinstar bot",
                                description="Run a trading bot headless (paper trading by default).")
    p.add_argument("flow", choices=["unified", "scanner", "multi"],
                   help="unified: one bot per symbol, signal on each closed 15m candle; scanner: REST RSI scan of "
                        "the presets then WS watch of the best; multi: top symbols by volume, one position at a time")
    p.add_argument("--exchange", required=True, help="exchange name")
    p.add_argument("--symbols", type=symbol_list,
                   help="comma-separated: unified = its symbol(s); scanner = the presets; multi = a "
                        "fixed universe instead of the top by volume")
    add_account_flags(p, paper="paper trading (the default)", live="real orders with the API keys in the OS keyring",
                      confirm="confirm live trading without the typed prompt",
                      data="data directory (candles and the trading journal)")
    p.add_argument("--duration", type=SECONDS, help="stop after this many seconds (default: until SIGINT/SIGTERM)")
    p.add_argument("--status-every", type=SECONDS, default=10.0, help="seconds between status lines (default 10)")
    return p


def main(argv: list[str]) -> int:
    from .config import SettingsError, load_settings
    from .exchanges.registry import exchange_names

    args = parser().parse_args(argv)
    exchange = args.exchange.strip().lower()
    if exchange not in exchange_names():
        return _fail(f"unknown exchange {exchange!r}; valid: {', '.join(exchange_names())}")
    try:
        settings = data_dir_setting(load_settings(args.config), args.data)
    except SettingsError as exc:
        return _fail(str(exc))
    problem = check_data_dir(settings.data_dir)
    if problem:
        return _fail(problem)
    symbols = args.symbols
    if args.flow == "unified" and not symbols:
        symbols = list(settings.symbols(exchange))[:1]
        if not symbols:
            return _fail("the unified bot needs --symbols")
    if args.flow == "unified":  # its symbols must exist: checked against the exchange's list (exit 2 if not)
        from .collector import native_ids
        from .core.instrument import SymbolError

        try:
            symbols = native_ids(settings, exchange, symbols)
        except SymbolError as exc:
            return _fail(str(exc))
    executor = None
    if args.live:
        executor = _live_executor(exchange, settings, args.confirm_live)
        if isinstance(executor, int):
            return executor
    return asyncio.run(_run(settings, exchange, args.flow, symbols, executor, args.status_every, args.duration))


def _fail(message: str, code: int = 2) -> int:
    print(f"twinstar bot: {message}", file=sys.stderr)
    return code


def _live_executor(exchange: str, settings, confirmed: bool):
    from .secrets import KeyStoreError, require_keys

    try:
        keys = require_keys(exchange)
    except KeyStoreError as exc:
        return _fail(f"{exc}; refusing to start")
    if not confirmed:
        if not sys.stdin.isatty():
            return _fail("live mode sends real orders: pass --confirm-live (or run in a terminal to confirm)")
        answer = input(f"Live trading on {exchange} with real money. Type LIVE to go on: ")
        if answer.strip() != "LIVE":
            return _fail("live trading not confirmed; nothing started")
    from .execution.live import LiveExecutor, LiveExecutorError

    try:
        return LiveExecutor.connect(exchange, keys, rest_url=settings.rest_url(exchange))
    except LiveExecutorError as exc:
        return _fail(f"live mode: {exc}")


async def _run(settings, exchange: str, flow: str, symbols, executor, status_every: float,
               duration: float | None) -> int:
    feed_symbols = symbols if flow == "unified" else []
    core = build_core(settings, exchanges=[exchange], symbols={exchange: feed_symbols}, allow_empty=True)
    stop = stop_event()
    await core.start()
    trading = build_trading(core, exchange, executor=executor)
    if hasattr(trading.executor.inner, "reconcile"):
        await asyncio.to_thread(trading.executor.inner.reconcile)  # live: the exchange's view first
    bots = [make_bot("unified", trading, settings, [s]) for s in symbols] if flow == "unified" else \
        [make_bot(flow, trading, settings, symbols)]
    for bot in bots:
        trading.start_bot(bot)
    mode = "LIVE" if executor is not None else "paper"
    print(f"{mode} trading on {exchange}: {', '.join(b.name for b in bots)}; journal {trading.journal.path}",
          flush=True)
    async for _ in ticks(stop, status_every, duration):
        for line in status_lines(trading):
            print(line, flush=True)
        if all(b.snapshot().state in ("stopped", "failed") for b in bots):
            break
    core.interrupt()  # REST calls in flight end now, so the bots stop within a tick
    await trading.stop()
    for line in status_lines(trading):
        print(line, flush=True)
    trading.journal.close()
    ok = await core.shutdown()
    failed = any(b.snapshot().state == "failed" for b in bots)
    return 0 if ok and not failed else 1


def status_lines(trading) -> list[str]:
    """The periodic status: bots (candidates in unified symbols) and the account, in the venue's currency."""
    ex, market = trading.executor, trading.market
    out = []
    for bot in trading.bots:
        s = bot.snapshot()
        line = f"{s.name}: state={s.state} entries={s.entries} {s.detail}"
        if s.candidates:
            line += " candidates=" + ",".join(
                f"{c.unified or c.symbol}({c.status})" if not c.listed else
                f"{c.unified or market.unified(c.symbol)}({c.side} rsi {c.rsi:.1f} {c.status})"
                for c in s.candidates[:10])
        if s.errors:
            line += f" last_error={s.errors[-1]!r}"
        out.append(line)
    positions = ex.positions()
    currency = getattr(ex, "currency", "USDT")
    out.append(f"{ex.name}: balance={ex.balance():.2f} {currency} positions=" + (", ".join(
        f"{market.unified(p.symbol)} {p.side} {abs(p.qty):g} @ {p.entry_price:g} uPnL {p.unrealized_pnl:+.2f}"
        for p in positions) or "none")
        + (f" KILL SWITCH: {ex.kill_switch['reason']}" if ex.kill_switch else ""))
    return out
