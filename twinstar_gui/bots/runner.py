"""A backtest from the user's words (flow, exchange, names, range, trading settings) to its result and metrics: the
symbols resolved against what is stored, the data checked (a range with no data says which months to download),
the bots made by the same factory as live, the replay run, the trades and metrics computed. No Qt."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..core.instrument import SPOT, Instrument
from ..core.metrics import Metrics, Trade, metrics_of, trades_of
from ..exchanges.registry import VENUES, get_exchange
from ..execution.instruments import rules_of
from ..execution.paper import default_rules
from .backtest import Backtest, BacktestResult, load_series, months_missing, months_of, resolve_names
from .base import Bot

DAY_MS = 86_400_000


class BacktestError(Exception):
    """Why a backtest cannot run, for the user; `code`: the exit code a command gives for it."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Outcome:
    result: BacktestResult
    metrics: Metrics
    trades: list[Trade]
    symbols: list[str]
    seconds: float
    instruments: dict[str, Instrument]

    def shown(self, native: str) -> str:
        inst = self.instruments.get(native)
        return inst.symbol if inst is not None else native


def stored_symbols(store, exchange: str) -> list[str]:
    root = store.root / f"exchange={exchange}"
    if not root.is_dir():
        return []
    return sorted(p.name.split("=", 1)[1] for p in root.glob("symbol=*") if (p / "tf=15m").is_dir())


def run_backtest(settings, trading, exchange: str, flow: str, names: list[str] | None, start_ms: int, end_ms: int,
                 *, progress: Callable[[float], None] | None = None,
                 cancelled: Callable[[], bool] | None = None, use_presets: bool = True,
                 exact_path: bool = False) -> Outcome:
    """`use_presets`: the scanner and the multi trader trade the verified presets of the data dir, as live.
    `exact_path`: every price of every candle replayed (see bots/backtest: the same result, slower)."""
    from ..data.catalogs import read_cache
    from ..data.store import CandleStore
    from .factory import make_bot

    store = CandleStore(settings.data_dir)
    adapter = get_exchange(exchange)
    catalog = read_cache(settings.data_dir, adapter)
    instruments = {i.native: i for i in catalog.instruments} if catalog is not None else {}
    stored = stored_symbols(store, exchange)
    given = names
    if names is None:
        names = {"unified": list(settings.symbols(exchange)), "scanner": list(trading.scanner_symbols),
                 "multi": stored}[flow]
    if not names:
        raise BacktestError(f"no symbols: give --symbols (nothing stored for {exchange} in {settings.data_dir})")
    symbols, unknown = resolve_names(names, exchange, stored, instruments)
    since = time.strftime("%Y-%m-%d", time.gmtime(start_ms / 1000))
    until = time.strftime("%Y-%m-%d", time.gmtime(end_ms / 1000))
    download = (f"twinstar download --exchange {exchange} --symbols {','.join(unknown or names)} --since {since} "
                f"--until {until} --data {settings.data_dir}")
    if unknown and flow == "unified" or not symbols:
        raise BacktestError(f"{exchange}: no stored candles for {', '.join(unknown or names)}; get them with: "
                            f"{download}")
    missing = months_missing(store, exchange, symbols, start_ms, end_ms)
    empty = [s for s, months in missing.items() if len(months) == len(months_of(start_ms, end_ms))]
    if empty and (flow == "unified" or len(empty) == len(symbols)):
        raise BacktestError(
            f"{exchange}: no stored candles in {since} .. {until} for " + "; ".join(
                f"{s} (missing {_span(missing[s])})" for s in empty[:10])
            + f"; get them with: twinstar download --exchange {exchange} --symbols {','.join(empty)} "
              f"--since {since} --until {until} --data {settings.data_dir}")
    strategy = trading.strategy if flow != "multi" else trading.multi_strategy()
    series = load_series(store, exchange, symbols, start_ms, end_ms, warmup=strategy.history_needed)
    absent = [s for s in symbols if s not in series]  # months with candles, but none inside the range
    if absent and (flow == "unified" or not series):
        raise BacktestError(f"{exchange}: no stored candles in {since} .. {until} for {', '.join(absent[:10])}; get "
                            f"them with: twinstar download --exchange {exchange} --symbols {','.join(absent)} "
                            f"--since {since} --until {until} --data {settings.data_dir}")
    venue = VENUES[exchange]
    currency = venue.quote

    def rules(symbol: str):
        inst = instruments.get(symbol)
        return rules_of(inst) if inst is not None else default_rules(symbol)

    def bots(trading_ns) -> list[Bot]:
        if flow == "unified":
            return [make_bot("unified", trading_ns, trading, [s]) for s in series]
        return [make_bot(flow, trading_ns, trading, list(series) if flow == "scanner" else
                         (list(series) if given else None), presets=settings.data_dir if use_presets else None)]

    started = time.monotonic()
    bt = Backtest(exchange, series, start_ms, end_ms, flow=flow, bot_factory=bots,
                  balance=trading.paper_start_balance(currency), fee_rate=trading.fee_rate,
                  slippage_bps=trading.slippage_bps, risk=trading.risk, currency=currency,
                  long_only=venue.kind == SPOT, rules=rules, instruments=instruments, progress=progress,
                  cancelled=cancelled, exact_path=exact_path)
    result = bt.run()
    for s, months in missing.items():
        if s not in empty:
            result.notes.append(f"{s}: no stored candles in {_span(months)}")
    for s in absent:
        if s not in missing:
            result.notes.append(f"{s}: no stored candles in {since} .. {until}")
    trades = trades_of(result.fills)
    exposure = result.exposure_steps / result.steps if result.steps else 0.0
    metrics = metrics_of(trades, result.equity, result.balance_start, exposure)
    return Outcome(result, metrics, trades, list(series), time.monotonic() - started, instruments)


def _span(months: list[str]) -> str:
    return months[0] if len(months) == 1 else f"{months[0]} .. {months[-1]} ({len(months)} months)"
