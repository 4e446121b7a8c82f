"""A backtest's trades and metrics, from its fills and equity curve (pure functions: numpy only)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DAY_MS = 86_400_000


@dataclass
class Trade:
    """One round trip: from the fill that opens a position to the fill that brings it back to flat."""

    symbol: str
    side: str  # long / short
    entry_ms: int
    exit_ms: int
    entry_price: float  # volume-weighted over the opening fills
    exit_price: float  # volume-weighted over the closing fills
    qty: float
    fees: float
    pnl: float  # realized, after every fee of the trade
    bot: str = ""


def trades_of(fills: Sequence[Any]) -> list[Trade]:
    """Fills (oldest first; .symbol .side .qty .price .fee .time_ms .realized_pnl .bot) -> round trips. A position
    turned over by one fill closes one trade and opens the next with the rest of that fill."""
    out: list[Trade] = []
    state: dict[str, dict[str, Any]] = {}
    for f in fills:
        signed = f.qty if f.side == "buy" else -f.qty
        st = state.get(f.symbol)
        if st is None or st["qty"] == 0:
            st = state[f.symbol] = {"qty": 0.0, "side": "long" if signed > 0 else "short", "entry_ms": f.time_ms,
                                    "in_qty": 0.0, "in_value": 0.0, "out_qty": 0.0, "out_value": 0.0, "fees": 0.0,
                                    "pnl": 0.0, "bot": f.bot}
        opening = (st["qty"] >= 0) == (signed > 0) or st["qty"] == 0
        st["fees"] += f.fee
        st["pnl"] += f.realized_pnl - f.fee
        if opening:
            st["in_qty"] += abs(signed)
            st["in_value"] += abs(signed) * f.price
            st["qty"] += signed
            continue
        closing = min(abs(signed), abs(st["qty"]))
        st["out_qty"] += closing
        st["out_value"] += closing * f.price
        st["qty"] += math.copysign(closing, signed)
        if abs(st["qty"]) <= 1e-12 * max(1.0, st["in_qty"]):
            st["qty"] = 0.0
            out.append(Trade(f.symbol, st["side"], st["entry_ms"], f.time_ms, st["in_value"] / st["in_qty"],
                             st["out_value"] / st["out_qty"], st["in_qty"], st["fees"], st["pnl"], st["bot"]))
            rest = abs(signed) - closing
            if rest > 1e-12 * abs(signed):  # turned over: the rest opens the next trade
                state[f.symbol] = {"qty": math.copysign(rest, signed), "side": "long" if signed > 0 else "short",
                                   "entry_ms": f.time_ms, "in_qty": rest, "in_value": rest * f.price,
                                   "out_qty": 0.0, "out_value": 0.0, "fees": 0.0, "pnl": 0.0, "bot": f.bot}
    return out


@dataclass
class Metrics:
    start_equity: float
    end_equity: float
    net_pnl: float
    return_pct: float
    max_drawdown_pct: float
    trades: int
    win_rate_pct: float
    profit_factor: float  # inf: no losing trade; nan: no trade
    sharpe: float  # daily returns, annualized (365 days: crypto trades every day)
    sortino: float
    exposure_pct: float  # share of the steps with a position open
    fees: float
    per_symbol: dict[str, dict[str, float]] = field(default_factory=dict)

    def rows(self, currency: str) -> list[tuple[str, str]]:
        pf = "-" if math.isnan(self.profit_factor) else "inf" if math.isinf(self.profit_factor) \
            else f"{self.profit_factor:.2f}"
        return [("net PnL", f"{self.net_pnl:+,.2f} {currency}"), ("return", f"{self.return_pct:+.2f} %"),
                ("max drawdown", f"{self.max_drawdown_pct:.2f} %"), ("trades", f"{self.trades}"),
                ("win rate", f"{self.win_rate_pct:.1f} %" if self.trades else "-"), ("profit factor", pf),
                ("Sharpe (daily)", _num(self.sharpe)), ("Sortino (daily)", _num(self.sortino)),
                ("exposure", f"{self.exposure_pct:.1f} %"), ("fees", f"{self.fees:,.2f} {currency}"),
                ("equity", f"{self.start_equity:,.2f} -> {self.end_equity:,.2f} {currency}")]


def _num(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.2f}"


def daily_returns(equity: Sequence[tuple[int, float]], start: float | None = None) -> np.ndarray:
    """Returns from one UTC day's last equity to the next's; the first day's from `start` (the equity before the
    first point: the starting balance), else from the first point."""
    if not len(equity) or (start is None and len(equity) < 2):
        return np.empty(0)
    t = np.array([e[0] for e in equity], np.int64)
    v = np.array([e[1] for e in equity], np.float64)
    days = t // DAY_MS
    last_of_day = np.nonzero(np.append(days[1:] != days[:-1], True))[0]
    closes = np.concatenate([[v[0] if start is None else start], v[last_of_day]])
    return np.diff(closes) / np.where(closes[:-1] == 0, np.nan, closes[:-1])


def max_drawdown_pct(equity: Sequence[tuple[int, float]], start: float | None = None) -> float:
    """The deepest fall from a peak, in % of it; the peak may be `start` (the equity before the first point)."""
    if not equity:
        return 0.0
    v = np.array(([] if start is None else [start]) + [e[1] for e in equity], np.float64)
    peak = np.maximum.accumulate(v)
    dd = np.where(peak > 0, (peak - v) / peak, 0.0)
    return float(dd.max() * 100)


def metrics_of(trades: Sequence[Trade], equity: Sequence[tuple[int, float]], start_equity: float,
               exposure: float) -> Metrics:
    end = equity[-1][1] if equity else start_equity
    pnl = np.array([t.pnl for t in trades], np.float64)
    wins, losses = pnl[pnl > 0], pnl[pnl <= 0]
    gross_loss = -losses.sum()
    pf = math.nan if not len(pnl) else (math.inf if gross_loss == 0 else float(wins.sum() / gross_loss))
    r = daily_returns(equity, start_equity)
    r = r[np.isfinite(r)]
    sharpe = sortino = math.nan
    if len(r) >= 2 and r.std(ddof=1) > 0:
        sharpe = float(r.mean() / r.std(ddof=1) * math.sqrt(365))
    downside = r[r < 0]
    if len(r) >= 2 and len(downside) and np.sqrt((downside ** 2).mean()) > 0:
        sortino = float(r.mean() / np.sqrt((downside ** 2).mean()) * math.sqrt(365))
    per: dict[str, dict[str, float]] = {}
    for t in trades:
        row = per.setdefault(t.symbol, {"trades": 0, "net_pnl": 0.0, "wins": 0})
        row["trades"] += 1
        row["net_pnl"] += t.pnl
        row["wins"] += t.pnl > 0
    for row in per.values():
        row["win_rate_pct"] = 100.0 * row.pop("wins") / row["trades"]
    win_rate = 100.0 * len(wins) / len(pnl) if len(pnl) else 0.0
    return Metrics(start_equity, end, end - start_equity, 100.0 * (end - start_equity) / start_equity,
                   max_drawdown_pct(equity, start_equity), len(trades), win_rate, pf,
                   sharpe, sortino, 100.0 * exposure, float(sum(t.fees for t in trades)), per)
