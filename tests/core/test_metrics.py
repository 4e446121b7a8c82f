"""Backtest metrics (core/metrics.py) on hand-made equity curves."""
import pytest


def test_daily_returns_and_drawdown_count_from_the_starting_balance():
    """A loss in the first step (10,000 -> 9,900 before the first equity point) is part of the first day's return
    and of the drawdown."""
    from twinstar_gui.core.metrics import daily_returns, max_drawdown_pct, metrics_of

    day = 86_400_000
    t0 = 1_735_689_600_000
    equity = [(t0 + 900_000, 9_900.0), (t0 + day - 1, 9_900.0), (t0 + day + 900_000, 10_395.0)]
    assert list(daily_returns(equity, 10_000.0)) == pytest.approx([-0.01, 0.05])
    assert list(daily_returns(equity)) == pytest.approx([0.0, 0.05])  # from the first point: the loss unseen
    assert max_drawdown_pct(equity, 10_000.0) == pytest.approx(1.0) and max_drawdown_pct(equity) == 0.0
    m = metrics_of([], equity, 10_000.0, 0.0)
    assert m.max_drawdown_pct == pytest.approx(1.0) and m.net_pnl == pytest.approx(395.0)
