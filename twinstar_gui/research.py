"""The optimizer's job, composed from the settings and the backtest runner: importable by a worker process (a local
one, or a Dask worker) with nothing but the package."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from .bots.optimize import Job, Score


def run_job(job: Job) -> Score:
    """One backtest: `job.symbol` alone through the unified flow with `job.params` over its window."""
    logging.getLogger("twinstar_gui").setLevel(logging.WARNING)
    from .bots.runner import BacktestError, run_backtest
    from .config import Settings, SettingsError, trading_from_dict

    score = Score(job)
    try:
        raw = json.loads(json.dumps(job.trading))
        strategy = raw.setdefault("strategy", {})
        for key, value in job.params:
            strategy[key] = int(value) if key == "rsi_period" else value
        trading = trading_from_dict(raw)
        settings = Settings(Path(job.data_dir), trading=trading)
        out = run_backtest(settings, trading, job.exchange, "unified", [job.symbol], job.start_ms, job.end_ms)
    except (BacktestError, SettingsError) as exc:
        score.error = str(exc)
        return score
    m = out.metrics
    score.return_pct, score.trades = m.return_pct, m.trades
    score.gross_win = sum(t.pnl for t in out.trades if t.pnl > 0)
    score.gross_loss = -sum(t.pnl for t in out.trades if t.pnl <= 0)
    return score
