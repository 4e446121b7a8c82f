"""A backtest's files: trades and the equity curve as CSV and Parquet, and a self-contained HTML report (metrics,
the equity curve and the drawdown as inline SVG, the trades; no script, no network). Every file is written to a
temporary name first and moved into place once complete: a run cancelled or failing half way leaves no half file."""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

TRADE_COLUMNS = ("symbol", "side", "entry_time", "exit_time", "entry_price", "exit_price", "qty", "fees", "pnl", "bot")


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def write_results(outcome, report: Path) -> Path:
    """report.html, and next to it <stem>.trades.csv/.parquet and <stem>.equity.csv/.parquet. Returns the report."""
    report = report.expanduser()
    report.parent.mkdir(parents=True, exist_ok=True)
    stem = report.with_suffix("")
    trades, equity = outcome.trades, outcome.result.equity
    rows = [(outcome.shown(t.symbol), t.side, _iso(t.entry_ms), _iso(t.exit_ms), t.entry_price, t.exit_price, t.qty,
             t.fees, t.pnl, t.bot) for t in trades]
    files = {
        Path(f"{stem}.trades.csv"): lambda p: _csv(p, TRADE_COLUMNS, rows),
        Path(f"{stem}.trades.parquet"): lambda p: pq.write_table(pa.table(
            {c: [r[i] for r in rows] for i, c in enumerate(TRADE_COLUMNS)}), p, compression="zstd"),
        Path(f"{stem}.equity.csv"): lambda p: _csv(p, ("time", "equity"), [(_iso(t), v) for t, v in equity]),
        Path(f"{stem}.equity.parquet"): lambda p: pq.write_table(pa.table(
            {"time": pa.array([t for t, _ in equity], pa.timestamp("ms", tz="UTC")),
             "equity": [v for _, v in equity]}), p, compression="zstd"),
        report: lambda p: p.write_text(render_html(outcome), encoding="utf-8"),
    }
    temps = []
    try:
        for final, write in files.items():
            tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
            temps.append((tmp, final))
            write(tmp)
        for tmp, final in temps:
            os.replace(tmp, final)
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return report


def _csv(path: Path, header, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _svg_line(times: np.ndarray, values: np.ndarray, *, width: int = 900, height: int = 220, colour: str,
              fill: bool = False, label: str) -> str:
    if len(values) < 2:
        return "<p>(not enough points to plot)</p>"
    x0, x1 = float(times[0]), float(times[-1])
    lo, hi = float(values.min()), float(values.max())
    if hi == lo:
        hi = lo + 1.0
    xs = 40 + (times - x0) / max(1.0, x1 - x0) * (width - 50)
    ys = 10 + (hi - values) / (hi - lo) * (height - 30)
    step = max(1, len(xs) // 2000)  # at most ~2000 points: the file stays small
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs[::step], ys[::step]))
    area = (f'<polygon points="{xs[0]:.1f},{10 + hi / (hi - lo) * (height - 30):.1f} {pts} '
            f'{xs[::step][-1]:.1f},{10 + hi / (hi - lo) * (height - 30):.1f}" fill="{colour}" opacity="0.25"/>'
            if fill else "")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="{html.escape(label)}"><rect width="100%" height="100%" fill="#1e1f24"/>{area}'
            f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
            f'<text x="4" y="14" fill="#aaa" font-size="11">{hi:,.2f}</text>'
            f'<text x="4" y="{height - 8}" fill="#aaa" font-size="11">{lo:,.2f}</text>'
            f'<text x="40" y="{height - 2}" fill="#aaa" font-size="11">{_iso(int(x0))}</text>'
            f'<text x="{width - 120}" y="{height - 2}" fill="#aaa" font-size="11">{_iso(int(x1))}</text></svg>')


def render_html(outcome) -> str:
    r, m = outcome.result, outcome.metrics
    e = html.escape
    t = np.array([p[0] for p in r.equity], np.float64)
    v = np.array([p[1] for p in r.equity], np.float64)
    peak = np.maximum.accumulate(v) if len(v) else v
    dd = -100 * (peak - v) / np.where(peak > 0, peak, 1)
    metric_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(val)}</td></tr>" for k, val in m.rows(r.currency))
    per = "".join(f"<tr><td>{e(outcome.shown(s))}</td><td>{int(row['trades'])}</td><td>{row['net_pnl']:+,.2f}</td>"
                  f"<td>{row['win_rate_pct']:.1f} %</td></tr>"
                  for s, row in sorted(m.per_symbol.items(), key=lambda kv: -kv[1]["net_pnl"]))
    trades = "".join(f"<tr><td>{e(outcome.shown(x.symbol))}</td><td>{x.side}</td><td>{_iso(x.entry_ms)}</td>"
                     f"<td>{_iso(x.exit_ms)}</td><td>{x.entry_price:.10g}</td><td>{x.exit_price:.10g}</td>"
                     f"<td>{x.qty:.10g}</td><td>{x.fees:,.4f}</td><td class=\"{'win' if x.pnl > 0 else 'loss'}\">"
                     f"{x.pnl:+,.2f}</td></tr>" for x in outcome.trades[:5000])
    gaps = "".join(f"<li>{e(outcome.shown(g.symbol))}: {_iso(g.first_ms)} .. {_iso(g.last_ms)} ({g.slots} candles)</li>"
                   for g in r.gaps[:200])
    notes = "".join(f"<li>{e(n)}</li>" for n in r.notes[:200])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TwinStar backtest: {e(r.exchange)} {e(r.flow)}</title>
<style>body{{background:#16171b;color:#ddd;font:13px system-ui,sans-serif;margin:24px}}
table{{border-collapse:collapse;margin:8px 0 20px}}
td,th{{padding:3px 10px;border-bottom:1px solid #333;text-align:right}}
th{{text-align:left;color:#aaa;font-weight:normal}}.win{{color:#26a69a}}.loss{{color:#ef5350}}
h2{{color:#eee}}</style>
</head><body>
<h1>Backtest: {e(r.exchange)} {e(r.flow)}</h1>
<p>{len(outcome.symbols)} symbol(s), {_iso(r.start_ms)} .. {_iso(r.end_ms)} UTC, {r.candles:,} candles replayed.
Prices inside a candle: open, the extreme against the position, the other extreme, close (a candle touching
both the take profit and the stop loss counts the stop loss).{' Cancelled before the end.' if r.cancelled else ''}</p>
<h2>Metrics</h2><table>{metric_rows}</table>
<h2>Equity</h2>{_svg_line(t, v, colour="#4f9df8", label="equity curve")}
<h2>Drawdown (%)</h2>{_svg_line(t, dd, colour="#ef5350", fill=True, label="drawdown")}
<h2>Per symbol</h2><table><tr><th>symbol</th><th>trades</th><th>net PnL</th><th>win rate</th></tr>{per}</table>
<h2>Trades ({len(outcome.trades)})</h2><table><tr><th>symbol</th><th>side</th><th>entry</th><th>exit</th>
<th>entry price</th><th>exit price</th><th>qty</th><th>fees</th><th>PnL</th></tr>{trades}</table>
{f'<h2>Holes in the data (not traded across)</h2><ul>{gaps}</ul>' if gaps else ''}
{f'<h2>Notes</h2><ul>{notes}</ul>' if notes else ''}
</body></html>
"""
