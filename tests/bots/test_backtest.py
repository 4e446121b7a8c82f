"""The backtest engine on hand-made candles (the intra-candle rule, levels filled at the level, gaps, holes, the kill
switch), and on the simulator's history downloaded into a real Parquet dataset: every flow, every venue, through
`twinstar backtest` as a user runs it."""
import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support.history import download_history

from twinstar_gui.bots.backtest import STEP, Backtest, Series, intra_path
from twinstar_gui.bots.base import Bot, BotContext
from twinstar_gui.bots.report import write_results
from twinstar_gui.bots.runner import BacktestError, run_backtest
from twinstar_gui.collector import data_dir_setting
from twinstar_gui.config import SettingsError, load_settings
from twinstar_gui.core.risk_limits import RiskLimits
from twinstar_gui.core.strategy import Signal
from twinstar_gui.exchanges.registry import exchange_names
from twinstar_gui.execution.base import OrderRequest
from twinstar_gui.sim.market import DAY_MS

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_790_000_000_000 - 1_790_000_000_000 % DAY_MS


class EnterAt(Bot):
    """Enters once, at market, when the candle opening at `at` closes (TP / SL as given)."""

    kind = "test"

    def __init__(self, ctx, symbol, at, side, tp, sl):
        super().__init__("enter-at", ctx)
        self.symbol, self.at, self.side, self.tp, self.sl = symbol, at, side, tp, sl

    def start(self):
        self.ctx.market.watch(self.symbol, self.inbox)

    def on_closed(self, symbol, candle, window=None):
        if candle.open_time == self.at:
            self.enter(Signal(symbol, self.side, candle.close, self.tp, self.sl, 50.0, candle.open_time, "test"),
                       intent=candle.open_time)


def series(*candles, start=T0, symbol="XUSDT"):
    """Candles as (open, high, low, close), one every 15m from `start` (None: a hole)."""
    rows = [(start + i * STEP, *c, 10.0) for i, c in enumerate(candles) if c is not None]
    return {symbol: Series(symbol, np.array(rows, np.float64))}


def run(data, bot_args, *, risk=None, slippage_bps=0.0, fee_rate=0.0):
    def bots(trading):
        ctx = BotContext(trading.market, trading.executor, trading.journal, order_notional=100.0)
        return [EnterAt(ctx, *bot_args)]

    bt = Backtest("bybit", data, T0, T0 + 1000 * STEP, flow="test", bot_factory=bots, balance=10_000.0,
                  fee_rate=fee_rate, slippage_bps=slippage_bps, risk=risk or RiskLimits())
    return bt.run()


class EnterAtOwnPrices(EnterAt):
    reads_other_prices = False  # as UnifiedBot: the replay may skip the prices nothing could act on


def run_both(data, bot_args, **kw):
    """The run with the short path (a bot that reads only its own prices) and with every price replayed."""
    out = []
    for exact in (False, True):
        def bots(trading):
            ctx = BotContext(trading.market, trading.executor, trading.journal, order_notional=100.0)
            return [EnterAtOwnPrices(ctx, *bot_args)]

        out.append(Backtest("bybit", data, T0, T0 + 1000 * STEP, flow="test", bot_factory=bots, balance=10_000.0,
                            fee_rate=kw.get("fee_rate", 0.0), slippage_bps=0.0, risk=kw.get("risk") or RiskLimits(),
                            exact_path=exact).run())
    return out


def test_a_candle_wholly_beyond_a_level_is_no_quiet_candle():
    """A long whose next candles lie wholly below its stop loss (a gap, never touching the level from inside the
    range): it is closed at the open of the first, on the short path as on the exact one."""
    flat = (100, 100, 100, 100)
    data = series(flat, flat, (100, 101, 99.5, 100.5), (90, 91, 89, 90), (90, 90, 90, 90))
    fast, exact = run_both(data, ("XUSDT", T0, "long", 110.0, 95.0))
    _same_run(fast, exact)
    entry, exit_ = fast.fills
    assert (exit_.side, exit_.price, exit_.time_ms) == ("sell", 90.0, T0 + 3 * STEP)  # the gap's open
    assert fast.prices < exact.prices  # the quiet candle in between went to its close


def test_a_symbol_whose_data_ends_early_is_not_held_at_a_stale_price():
    flat = (100, 100, 100, 100)
    data = series(flat, flat, (100, 104, 100, 104), symbol="XUSDT")  # ends after three candles
    data.update(series(*[flat] * 8, symbol="YUSDT"))  # the range goes on
    for res in run_both(data, ("XUSDT", T0, "long", 110.0, 90.0)):
        entry, exit_ = res.fills
        assert (exit_.side, exit_.price, exit_.time_ms) == ("sell", 104.0, T0 + 3 * STEP - 1)
        assert any("XUSDT: position closed at 104 (its stored candles end here)" in n for n in res.notes)
        assert res.equity[-1][1] == res.equity[3][1]  # nothing moves after it


def test_a_close_before_a_hole_counts_at_once_for_the_daily_loss_limit():
    """A's position is closed before a hole in its data at a loss past the limit (fees included), with nothing held
    after it: the switch trips at that close (was: at some later price, when the wall clock let the risk guard look),
    and B's entry later is refused; the same on the short path and the exact one."""
    class Long(EnterAtOwnPrices):
        def __init__(self, ctx, name, symbol, at):
            Bot.__init__(self, name, ctx)
            self.symbol, self.at, self.side, self.tp, self.sl = symbol, at, "long", None, None

    flat = (100.0, 100.0, 100.0, 100.0)
    data = series(flat, (100.0, 100.0, 81.5, 81.5), None, (81.5, 81.5, 81.5, 81.5), flat, flat, flat, symbol="AUSDT")
    data.update(series(*[flat] * 8, symbol="BUSDT"))
    out = []
    for exact in (False, True):
        def bots(tr):
            return [Long(BotContext(tr.market, tr.executor, tr.journal, order_notional=100.0), "a", "AUSDT", T0),
                    Long(BotContext(tr.market, tr.executor, tr.journal, order_notional=100.0), "b", "BUSDT",
                         T0 + 4 * STEP)]
        out.append(Backtest("bybit", data, T0, T0 + 7 * STEP, flow="test", bot_factory=bots, balance=10_000.0,
                            fee_rate=0.01, slippage_bps=0.0, risk=RiskLimits(daily_loss_limit_usdt=20.0),
                            exact_path=exact).run())
    _same_run(*out)
    res = out[0]
    assert res.kill_switch is not None and res.kill_switch["time_ms"] == T0 + 2 * STEP - 1  # at the close
    assert {f.symbol for f in res.fills} == {"AUSDT"}  # B never entered


def test_the_path_goes_against_the_position_first():
    assert intra_path(10, 12, 9, 11, held=1.0) == (10, 9, 12, 11)  # long: the low first
    assert intra_path(10, 12, 9, 11, held=-1.0) == (10, 12, 9, 11)  # short: the high first
    assert intra_path(10, 12, 9, 11, held=0.0) == (10, 9, 12, 11)  # flat, rising: low first
    assert intra_path(10, 12, 9, 9.5, held=0.0) == (10, 12, 9, 9.5)  # flat, falling: high first


def test_a_candle_touching_both_take_profit_and_stop_loss_counts_the_stop_at_its_level():
    data = series((100, 100, 100, 100), (100, 100, 100, 100), (100, 106, 94, 103), (103, 103, 103, 103))
    res = run(data, ("XUSDT", T0, "long", 105.0, 95.0))  # entry at market: the next price, 100
    entry, exit_ = res.fills
    assert (entry.side, entry.price) == ("buy", 100.0)
    assert (exit_.side, exit_.price) == ("sell", 95.0)  # the SL, at its level, though the high touched the TP
    assert exit_.time_ms >= T0 + 2 * STEP and exit_.realized_pnl == pytest.approx(-5.0 * entry.qty)


def test_an_entry_at_the_open_of_a_candle_against_it_still_counts_the_stop():
    # the entry (sent at the close before) fills at the open of a candle that closes against it: the path must go
    # against the new position first, whatever the candle's colour
    data = series((100, 100, 100, 100), (100, 106, 94, 97), (97, 97, 97, 97))
    entry, exit_ = run(data, ("XUSDT", T0, "long", 105.0, 95.0)).fills
    assert (entry.price, entry.time_ms, exit_.side, exit_.price) == (100.0, T0 + STEP, "sell", 95.0)
    data = series((100, 100, 100, 100), (100, 106, 94, 103), (103, 103, 103, 103))
    entry, exit_ = run(data, ("XUSDT", T0, "short", 95.0, 105.0)).fills
    assert (entry.price, entry.time_ms, exit_.side, exit_.price) == (100.0, T0 + STEP, "buy", 105.0)


def test_a_take_profit_fills_at_its_level_and_a_gap_fills_at_the_open():
    data = series((100, 100, 100, 100), (100, 100, 100, 100), (100, 107, 99, 106), (106, 106, 106, 106))
    res = run(data, ("XUSDT", T0, "long", 105.0, 95.0))
    assert [f.price for f in res.fills] == [100.0, 105.0]  # passed through 105 on its way to 107
    gap = series((100, 100, 100, 100), (100, 100, 100, 100), (90, 91, 89, 90), (90, 90, 90, 90))
    res = run(gap, ("XUSDT", T0, "long", 105.0, 95.0))
    assert [f.price for f in res.fills] == [100.0, 90.0]  # opened below the stop: out at the open, not at 95


def test_a_short_and_slippage_and_fees():
    data = series((100, 100, 100, 100), (100, 100, 100, 100), (100, 100.5, 97, 97), (97, 97, 97, 97))
    res = run(data, ("XUSDT", T0, "short", 98.0, 102.0), slippage_bps=10.0, fee_rate=0.001)
    entry, exit_ = res.fills
    assert entry.side == "sell" and entry.price == pytest.approx(99.9)  # market: worse by 10 bps
    assert exit_.side == "buy" and exit_.price == pytest.approx(98.0 * 1.001)
    assert entry.fee == pytest.approx(entry.qty * entry.price * 0.001)


def test_no_trade_across_a_hole_in_the_data():
    data = series((100, 100, 100, 100), (100, 100, 100, 100), (100, 101, 99, 100), None, None,
                  (120, 121, 119, 120), (120, 120, 120, 120))
    res = run(data, ("XUSDT", T0, "long", 110.0, 90.0))
    assert [g.slots for g in res.gaps] == [2]
    entry, exit_ = res.fills
    assert exit_.price == 100.0 and exit_.time_ms < T0 + 3 * STEP  # closed before the hole, not at 110 after it
    assert any("hole" in n for n in res.notes)


def test_an_entry_sent_before_a_hole_does_not_fill_after_it():
    data = series((100, 100, 100, 100), (100, 100, 100, 100), (100, 101, 99, 100), None, None,
                  (120, 121, 119, 120), (120, 120, 120, 120))
    res = run(data, ("XUSDT", T0 + 2 * STEP, "long", 130.0, 110.0))  # the signal on the last candle before it
    assert res.fills == [] and any("hole" in n for n in res.notes)


def test_the_kill_switch_acts_as_live():
    data = series((100, 100, 100, 100), (100, 100, 100, 100), (100, 100, 50, 50), (50, 50, 50, 50),
                  (50, 50, 50, 50))
    res = run(data, ("XUSDT", T0, "long", 200.0, 10.0), risk=RiskLimits(daily_loss_limit_usdt=20.0))
    assert res.kill_switch is not None and "loss" in res.kill_switch["reason"]
    assert res.fills[-1].side == "sell" and res.fills[-1].price == 50.0  # flattened when it tripped


# -- on the simulator's history, through the runner and the command -------------------------------------------
NATIVE = {"bybit": "BTCUSDT", "binance": "BTCUSDT", "okx": "BTC-USDT-SWAP", "bitget": "BTCUSDT",
          "bingx": "BTC-USDT", "upbit": "KRW-BTC", "bithumb": "BTC_KRW"}
SECOND = {"bybit": "ETHUSDT", "binance": "ETHUSDT", "okx": "ETH-USDT-SWAP", "bitget": "ETHUSDT",
          "bingx": "ETH-USDT", "upbit": "KRW-ETH", "bithumb": "ETH_KRW"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """20 days of two symbols of every venue, downloaded from the simulator into one dataset."""
    root = tmp_path_factory.mktemp("bt-data")
    return root, download_history(root, {name: [NATIVE[name], SECOND[name]] for name in exchange_names()})


def day_text(ms):
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


@pytest.mark.parametrize("exchange", exchange_names())
def test_every_flow_trades_on_every_venue(dataset, exchange, monkeypatch, tmp_path):
    root, start = dataset
    monkeypatch.setenv("TWINSTAR_CONFIG", str(tmp_path / "none.json"))
    settings = data_dir_setting(load_settings(None), str(root))
    end = start + 20 * DAY_MS - 1
    krw = exchange in ("upbit", "bithumb")
    for flow, names in (("unified", [NATIVE[exchange]]), ("scanner", ["BTC", "ETH"]), ("multi", None)):
        out = run_backtest(settings, settings.trading, exchange, flow, names, start + 5 * DAY_MS, end)
        assert out.result.candles > 0 and out.metrics.trades > 0, (flow, out.result.notes)
        assert out.metrics.end_equity == pytest.approx(out.metrics.start_equity + sum(t.pnl for t in out.trades))
        assert out.result.currency == ("KRW" if krw else "USDT")
        if krw:  # spot: no shorts
            assert {t.side for t in out.trades} == {"long"}


def test_a_range_without_data_says_which_months_and_how_to_get_them(dataset, monkeypatch, tmp_path):
    root, start = dataset
    monkeypatch.setenv("TWINSTAR_CONFIG", str(tmp_path / "none.json"))
    settings = data_dir_setting(load_settings(None), str(root))
    with pytest.raises(BacktestError) as err:
        run_backtest(settings, settings.trading, "okx", "unified", ["ETH-USDT-SWAP"], start - 200 * DAY_MS,
                     start - 100 * DAY_MS)
    text = str(err.value)
    assert "ETH-USDT-SWAP" in text and "months" in text and "twinstar download --exchange okx" in text
    with pytest.raises(BacktestError) as err:
        run_backtest(settings, settings.trading, "okx", "unified", ["DOGE"], start, start + DAY_MS)
    assert "DOGE" in str(err.value) and "twinstar download" in str(err.value)
    for flow in ("unified", "scanner"):  # days with no candles just before the data begins (maybe in its month)
        with pytest.raises(BacktestError) as err:
            run_backtest(settings, settings.trading, "okx", flow, ["ETH-USDT-SWAP"], start - 3 * DAY_MS, start - 1)
        assert "ETH-USDT-SWAP" in str(err.value) and "twinstar download --exchange okx" in str(err.value)


def test_a_cancelled_run_and_a_failing_write_leave_no_half_files(dataset, monkeypatch, tmp_path):
    root, start = dataset
    monkeypatch.setenv("TWINSTAR_CONFIG", str(tmp_path / "none.json"))
    settings = data_dir_setting(load_settings(None), str(root))
    calls = []
    out = run_backtest(settings, settings.trading, "bybit", "unified", ["BTCUSDT"], start + 5 * DAY_MS,
                       start + 20 * DAY_MS - 1, cancelled=lambda: calls.append(1) or len(calls) > 3)
    assert out.result.cancelled and out.result.steps < 15 * 96
    import twinstar_gui.bots.report as report

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.pq, "write_table", broken)
    with pytest.raises(OSError):
        write_results(out, tmp_path / "r" / "bt.html")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == []  # nothing half written, no temp left


def run_cli(args, root, tmp_path):
    env = {**os.environ, "TWINSTAR_CONFIG": str(tmp_path / "none.json")}
    return subprocess.run([sys.executable, "-m", "twinstar_gui", "backtest", *args, "--data", str(root)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_the_command_prints_the_metrics_and_writes_the_report(dataset, tmp_path):
    root, start = dataset
    report_path = tmp_path / "out" / "bt.html"
    done = run_cli(["--flow", "unified", "--exchange", "upbit", "--symbols", "BTC/KRW", "--from",
                    day_text(start + 5 * DAY_MS), "--to", day_text(start + 19 * DAY_MS),
                    "--set", "strategy.take_profit_pct=3", "--report", str(report_path)], root, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    for word in ("net PnL", "max drawdown", "win rate", "profit factor", "Sharpe", "Sortino", "exposure", "KRW-BTC"):
        assert word in done.stdout
    html = report_path.read_text()
    assert "<svg" in html and "<script" not in html and "Drawdown" in html
    trades = (tmp_path / "out" / "bt.trades.csv").read_text().splitlines()
    assert trades[0].startswith("symbol,side,entry_time") and len(trades) > 1
    assert (tmp_path / "out" / "bt.equity.parquet").stat().st_size > 0


@pytest.mark.parametrize("sets, words", [
    (["strategy.rsi_lo=25"], "rsi_lo"),
    (["strategy.rsi_low=250"], "rsi_low"),
    (["risk.max_open_positions=0"], "max_open_positions"),
    (["nonsense"], "KEY=VALUE"),
    (["order_usdt=" + "[" * 5000], "order_usdt"),  # nested past the JSON parser's depth
])
def test_a_bad_parameter_exits_2_naming_it(dataset, tmp_path, sets, words):
    root, start = dataset
    args = ["--flow", "unified", "--exchange", "bybit", "--symbols", "BTCUSDT", "--from", day_text(start),
            "--to", day_text(start + DAY_MS)]
    for s in sets:
        args += ["--set", s]
    done = run_cli(args, root, tmp_path)
    assert done.returncode == 2 and words in done.stderr, done.stderr[-1500:]


def test_absurd_dates_and_a_report_that_cannot_be_written_are_said_before_the_run(dataset, tmp_path):
    root, start = dataset
    args = ["--flow", "unified", "--exchange", "bybit", "--symbols", "BTCUSDT"]
    for since, until in (("0001-01-01", "2025-01-01"), ("2025-01-01", "9999-12-31")):
        done = run_cli(args + ["--from", since, "--to", until], root, tmp_path)
        assert done.returncode == 2 and "year" in done.stderr and "Traceback" not in done.stderr, done.stderr[-1500:]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for report in (blocker / "out" / "bt.html", tmp_path):
        done = run_cli(args + ["--from", day_text(start + 5 * DAY_MS), "--to", day_text(start + 6 * DAY_MS),
                               "--report", str(report)], root, tmp_path)
        assert done.returncode == 2 and "--report" in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert "net PnL" not in done.stdout  # said before the run, not after it


def test_a_range_of_centuries_from_the_window_runs_on_the_data_it_has(dataset, monkeypatch, tmp_path):
    root, start = dataset
    monkeypatch.setenv("TWINSTAR_CONFIG", str(tmp_path / "none.json"))
    settings = data_dir_setting(load_settings(None), str(root))
    began = time.monotonic()
    out = run_backtest(settings, settings.trading, "bybit", "unified", ["BTCUSDT"], -5_364_662_400_000,
                       253_402_300_799_999)  # 1800-01-01 .. 9999-12-31, the date edit's reach
    assert out.result.candles > 0 and time.monotonic() - began < 60
    assert any("no stored candles in 1800-01" in n for n in out.result.notes)


def test_settings_overrides_are_checked_like_the_settings_file():
    from twinstar_gui.config import TradingSettings, apply_overrides as apply_sets

    t = apply_sets(TradingSettings(), ["strategy.rsi_low=25", "strategy.rsi_timeframe=1h", "order_usdt=50"])
    assert t.strategy.rsi_low == 25 and t.strategy.rsi_timeframe.label == "1h" and t.order_usdt == 50
    with pytest.raises(SettingsError):
        apply_sets(TradingSettings(), ["strategy.rsi_low=80"])  # above rsi_high: the rule across fields


# -- the optimizer and its presets -----------------------------------------------------------------------------------
def test_grids_windows_and_bad_parameters():
    from twinstar_gui.bots.optimize import grid_of, parse_grid, windows

    assert len(grid_of()) == 81 and all(p["rsi_low"] < p["rsi_high"] for p in grid_of())
    assert grid_of(parse_grid(["strategy.rsi_low=20,25", "take_profit_pct=3"]))[0]["take_profit_pct"] == 3.0
    pairs = {(p["rsi_low"], p["rsi_high"]) for p in grid_of({"rsi_low": [20, 80], "rsi_high": [70]})}
    assert pairs == {(20.0, 70.0)}  # 80 >= 70 left out; the other parameters keep the default grid
    for bad, words in ((["rsi_lo=1"], "rsi_lo"), (["rsi_low=a,b"], "numbers"), (["rsi_low"], "PARAM="),
                       (["rsi_low=nan"], "finite")):
        with pytest.raises(ValueError, match=words):
            parse_grid(bad)
    w = windows(T0, T0 + 4 * DAY_MS - 1, 3)
    assert len(w) == 4 and w[0][0] == T0 and all(b[0] == a[1] + 1 for a, b in zip(w, w[1:]))
    with pytest.raises(ValueError, match="at least"):
        windows(T0, T0 + DAY_MS, 3)


def test_walk_forward_presets_are_verified_only_past_the_thresholds(dataset, tmp_path):
    from twinstar_gui.bots.optimize import LocalProcesses, Thresholds, optimize, verified_strategies, write_preset
    from twinstar_gui.config import Settings, TradingSettings, settings_to_dict
    from twinstar_gui.research import run_job

    root, start = dataset
    trading = settings_to_dict(Settings(root, trading=TradingSettings()))["trading"]
    params = [{"rsi_low": 30.0, "take_profit_pct": 2.0}, {"rsi_low": 30.0, "take_profit_pct": 3.0}]
    seen = []
    args = (root, "bybit", ["BTCUSDT", "ETHUSDT"], start + 5 * DAY_MS, start + 20 * DAY_MS - 1, trading, params,
            run_job)
    lenient = optimize(*args, folds=2, thresholds=Thresholds(-100.0, 0.0, 0), runner=LocalProcesses(2),
                       progress=lambda n, total: seen.append((n, total)))
    assert seen[-1] == (12, 12)  # 2 symbols x 2 parameter sets x 3 windows, in two processes
    assert [p.symbol for p in lenient] == ["BTCUSDT", "ETHUSDT"] and all(p.verified for p in lenient)
    p = lenient[0]
    assert p.params in params and len(p.folds) == 2
    assert p.folds[0].test == p.folds[1].train  # each fold scored on the window after the one it chose on
    strict = optimize(*args, folds=2, thresholds=Thresholds(50.0, 10.0, 1000), runner=LocalProcesses(1))
    assert not any(s.verified for s in strict) and "out-of-sample return" in strict[0].why
    data = tmp_path / "d"
    write_preset(data, lenient[1])
    write_preset(data, strict[0])
    found, problems = verified_strategies(data, "bybit", TradingSettings().strategy)
    assert list(found) == ["ETHUSDT"] and problems == []
    assert found["ETHUSDT"].take_profit_pct == lenient[1].params["take_profit_pct"]


def test_a_fold_without_data_is_not_scored_as_a_flat_one(dataset, tmp_path):
    """A window with no candles (before the download began) is no 0 % fold: it is skipped with why, counts neither
    for nor against, and a range where no fold has data verifies nothing."""
    from twinstar_gui.bots.optimize import LocalProcesses, Thresholds, optimize, read_presets, write_preset
    from twinstar_gui.config import Settings, TradingSettings, settings_to_dict
    from twinstar_gui.research import run_job

    root, start = dataset
    trading = settings_to_dict(Settings(root, trading=TradingSettings()))["trading"]
    params = [{"take_profit_pct": 2.0}, {"take_profit_pct": 3.0}]
    lenient = Thresholds(-100.0, 0.0, 0)
    # four windows of 10 days: the first two before the data begins
    (p,) = optimize(root, "bybit", ["BTCUSDT"], start - 20 * DAY_MS, start + 20 * DAY_MS - 1, trading, params,
                    run_job, folds=3, thresholds=lenient, runner=LocalProcesses(2))
    skipped = [f for f in p.folds if f.skipped]
    assert len(p.folds) == 3 and len(skipped) == 2 and not p.folds[2].skipped
    assert "in-sample" in skipped[0].skipped and "no stored candles" in skipped[0].skipped
    assert "twinstar download --exchange bybit --symbols BTCUSDT" in skipped[1].skipped
    assert p.verified and "(2 of 3 folds had no data)" in p.why
    assert f"{p.folds[2].out_of_sample_return_pct:+.2f} % per fold" in p.why  # the one scored fold, not a mean with 0s
    # the newest window empty: the preset's parameters are those the newest window with data chose
    (late,) = optimize(root, "bybit", ["BTCUSDT"], start, start + 40 * DAY_MS - 1, trading, params[::-1], run_job,
                       folds=3, thresholds=lenient, runner=LocalProcesses(2))
    assert late.params != params[-1]  # not the first of the grid by default (what an empty window's "best" was)
    assert [bool(f.skipped) for f in late.folds] == [False, True, True]
    assert late.params == late.folds[1].params  # chosen on the second window (the newest with candles)
    assert "(2 of 3 folds had no data)" in late.why
    (none,) = optimize(root, "bybit", ["BTCUSDT"], start + 10 * DAY_MS, start + 40 * DAY_MS - 1, trading, params,
                       run_job, folds=2, thresholds=lenient, runner=LocalProcesses(1))
    assert not none.verified and none.why.startswith("no fold could be scored")
    write_preset(tmp_path, p)
    (read,), problems = read_presets(tmp_path, "bybit")
    assert problems == [] and read["folds"][0]["skipped"]


def test_preset_files_are_untrusted(tmp_path):
    from twinstar_gui.bots.optimize import preset_path, read_presets, verified_strategies
    from twinstar_gui.config import TradingSettings
    from twinstar_gui.core.names import BadName

    folder = tmp_path / "presets" / "okx"
    folder.mkdir(parents=True)
    (folder / "A-USDT-SWAP.json").write_text("{not json")
    (folder / "B-USDT-SWAP.json").write_text('{"exchange": "okx", "symbol": "C-USDT-SWAP", "verified": true, '
                                             '"params": {}}')
    (folder / "D-USDT-SWAP.json").write_text('{"exchange": "okx", "symbol": "D-USDT-SWAP", "verified": "yes", '
                                             '"params": {}}')
    (folder / "E-USDT-SWAP.json").write_text('{"exchange": "okx", "symbol": "E-USDT-SWAP", "verified": true, '
                                             '"params": {"rsi_low": 95, "take_profit_pct": 2, "evil": 1}}')
    presets, problems = read_presets(tmp_path, "okx")
    assert [p["symbol"] for p in presets] == ["E-USDT-SWAP"] and len(problems) == 3
    assert all("-USDT-SWAP.json" in p for p in problems)
    found, problems = verified_strategies(tmp_path, "okx", TradingSettings().strategy)
    assert found == {} and "rsi_low" in problems[-1]  # 95 >= rsi_high: refused, named
    with pytest.raises(BadName):
        preset_path(tmp_path, "okx", "../../etc/passwd")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and /dev/zero are POSIX")
def test_preset_files_that_are_no_files_or_hold_no_numbers_are_refused(tmp_path):
    import threading

    from twinstar_gui.bots.optimize import read_presets, verified_strategies
    from twinstar_gui.config import TradingSettings

    folder = tmp_path / "presets" / "okx"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "F-USDT-SWAP.json")  # a read would wait for a writer for ever
    (folder / "Z-USDT-SWAP.json").symlink_to("/dev/zero")  # a read would never end
    head = '{"exchange": "okx", "symbol": "%s", "verified": true, "params": %s}'
    for sym, params in (("N-USDT-SWAP", '{"rsi_period": NaN}'), ("I-USDT-SWAP", '{"rsi_period": Infinity}'),
                        ("H-USDT-SWAP", '{"rsi_period": 1e308}'), ("S-USDT-SWAP", '{"rsi_low": "25"}'),
                        ("B-USDT-SWAP", '{"take_profit_pct": true}'), ("P-USDT-SWAP", '{"rsi_period": 14.5}'),
                        ("D-USDT-SWAP", "[" * 100_000)):
        (folder / f"{sym}.json").write_text(head % (sym, params))
    (folder / "OK-USDT-SWAP.json").write_text(head % ("OK-USDT-SWAP", '{"rsi_period": 21, "rsi_low": 25}'))
    got = []
    reader = threading.Thread(target=lambda: got.append((read_presets(tmp_path, "okx"),
                                                         verified_strategies(tmp_path, "okx",
                                                                             TradingSettings().strategy))),
                              daemon=True)
    reader.start()
    reader.join(20)
    assert got, "reading the presets blocked (or failed: see the thread's exception above)"
    (presets, problems), (found, refused) = got[0]
    assert [p["symbol"] for p in presets] == ["OK-USDT-SWAP"] and len(problems) == 9, problems
    assert list(found) == ["OK-USDT-SWAP"] and found["OK-USDT-SWAP"].rsi_period == 21
    assert any("F-USDT-SWAP" in p and "regular" in p for p in problems)


def test_the_scanner_trades_only_verified_presets_with_their_own_parameters(dataset, tmp_path, monkeypatch):
    import shutil

    from twinstar_gui.bots.optimize import Preset, write_preset

    root, start = dataset
    data = tmp_path / "data"
    shutil.copytree(root, data)
    monkeypatch.setenv("TWINSTAR_CONFIG", str(tmp_path / "none.json"))
    settings = data_dir_setting(load_settings(None), str(data))
    span = (start + 5 * DAY_MS, start + 20 * DAY_MS - 1)
    before = run_backtest(settings, settings.trading, "bybit", "scanner", ["BTC", "ETH"], *span)
    assert {t.symbol for t in before.trades} == {"BTCUSDT", "ETHUSDT"}
    write_preset(data, Preset("bybit", "ETHUSDT", {"take_profit_pct": 4.0, "stop_loss_pct": 0.5}, True, "test",
                              "", ""))
    write_preset(data, Preset("bybit", "BTCUSDT", {"take_profit_pct": 4.0}, False, "test", "", ""))
    after = run_backtest(settings, settings.trading, "bybit", "scanner", ["BTC", "ETH"], *span)
    assert after.trades and {t.symbol for t in after.trades} == {"ETHUSDT"}
    # its exits: 4 % above or 0.5 % below the entry (a long), the other way for a short, not the default 2 / 1
    for t in after.trades[:-1]:  # the last may be closed by the end of the run
        move = (t.exit_price / t.entry_price - 1) * (1 if t.side == "long" else -1) * 100
        assert move == pytest.approx(4.0, abs=0.3) or move == pytest.approx(-0.5, abs=0.3), move


def test_the_optimize_command(dataset, tmp_path):
    import shutil

    root, start = dataset
    data = tmp_path / "data"
    shutil.copytree(root, data)
    env = {**os.environ, "TWINSTAR_CONFIG": str(tmp_path / "none.json")}
    args = [sys.executable, "-m", "twinstar_gui", "optimize", "--exchange", "okx", "--symbols", "BTC,ETH",
            "--from", day_text(start + 5 * DAY_MS), "--to", day_text(start + 19 * DAY_MS), "--folds", "2",
            "--grid", "rsi_low=30", "--grid", "rsi_high=70", "--grid", "take_profit_pct=2,3", "--grid",
            "stop_loss_pct=1", "--workers", "2", "--data", str(data)]
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 symbol(s) x 2 parameter set(s) x 3 windows = 12 backtests on 2 local process(es)" in done.stdout
    assert done.stdout.count("-> ") == 2 and "preset(s) verified" in done.stdout
    files = sorted(p.name for p in (data / "presets" / "okx").iterdir())
    assert files == ["BTC-USDT-SWAP.json", "ETH-USDT-SWAP.json"]
    bad = subprocess.run(args[:-4] + ["--grid", "rsi_lo=3", "--data", str(data)], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and "rsi_lo" in bad.stderr


def test_optimize_refuses_grid_values_out_of_range_and_keeps_a_preset_when_no_backtest_ran(dataset, tmp_path):
    import json
    import shutil

    from twinstar_gui.bots.optimize import Preset, preset_path, write_preset

    root, start = dataset
    data = tmp_path / "data"
    shutil.copytree(root, data)
    env = {**os.environ, "TWINSTAR_CONFIG": str(tmp_path / "none.json")}
    base = [sys.executable, "-m", "twinstar_gui", "optimize", "--exchange", "okx", "--symbols", "BTC", "--folds", "1",
            "--grid", "rsi_low=30", "--grid", "rsi_high=70", "--grid", "stop_loss_pct=1", "--workers", "1",
            "--data", str(data)]
    span = ["--from", day_text(start + 5 * DAY_MS), "--to", day_text(start + 19 * DAY_MS)]
    for grid, words in (("rsi_period=14.5", "rsi_period"), ("take_profit_pct=150", "take_profit_pct"),
                        ("rsi_period=1e9", "rsi_period")):
        done = subprocess.run(base + span + ["--grid", grid], capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=120)
        assert done.returncode == 2 and words in done.stderr and "backtests on" not in done.stdout, done.stderr
    write_preset(data, Preset("okx", "BTC-USDT-SWAP", {"take_profit_pct": 4.0}, True, "kept", "", ""))
    before = preset_path(data, "okx", "BTC-USDT-SWAP").read_text()
    done = subprocess.run(base + ["--from", "2019-01-01", "--to", "2019-01-10", "--grid", "take_profit_pct=2"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "no backtest ran" in done.stdout, (done.stdout, done.stderr)
    assert preset_path(data, "okx", "BTC-USDT-SWAP").read_text() == before
    assert json.loads(before)["verified"] is True


def _same_run(a, b):
    """Two results that made the same trades: fills (but the paper order ids, which carry a random part), orders,
    equity at every close, notes and the kill switch."""
    def fills(res):
        return [dataclasses.replace(f, order_id="") for f in res.fills]

    def orders(res):
        return [(o.client_id, o.symbol, o.side, o.qty, o.status, o.avg_price, o.fee) for o in res.orders]

    assert fills(a) == fills(b)
    assert orders(a) == orders(b)
    assert a.equity == b.equity and a.notes == b.notes and a.kill_switch == b.kill_switch
    assert (a.candles, a.steps, a.exposure_steps) == (b.candles, b.steps, b.exposure_steps)


@pytest.mark.parametrize("exchange", exchange_names())
def test_the_short_path_trades_exactly_as_every_price_replayed(dataset, exchange, monkeypatch, tmp_path):
    """The unified flow skips the prices nothing could act on (bots/backtest's rule); every price replayed
    (exact_path) makes the very same trades, equity and kill switch: with room under the daily loss limit, with
    little room (steps that are not calm), and with a limit the first stop loss trips."""
    from dataclasses import replace

    root, start = dataset
    monkeypatch.setenv("TWINSTAR_CONFIG", str(tmp_path / "none.json"))
    settings = data_dir_setting(load_settings(None), str(root))
    base = settings.trading
    tripped = 0
    for usdt, krw in ((None, None), (3.0, 3_000.0), (0.5, 500.0)):
        risk = base.risk if usdt is None else replace(base.risk, daily_loss_limit_usdt=usdt,
                                                      daily_loss_limit_krw=krw)
        trading = replace(base, risk=replace(risk, max_open_positions=5))
        runs = [run_backtest(settings, trading, exchange, "unified", [NATIVE[exchange], SECOND[exchange]],
                             start + 5 * DAY_MS, start + 20 * DAY_MS - 1, exact_path=exact) for exact in (False, True)]
        fast, exact = (o.result for o in runs)
        assert fast.fills, (exchange, usdt, fast.notes)
        _same_run(fast, exact)
        assert fast.prices < 0.7 * exact.prices, (fast.prices, exact.prices)  # the short path was taken
        tripped += fast.kill_switch is not None
    assert tripped >= 1  # the tightest limit trips the switch


def test_the_memory_journal_makes_the_trades_the_sqlite_journal_makes(dataset, monkeypatch, tmp_path):
    """A backtest's account is journaled in memory (MemoryJournal): the same run on SQLite gives the same result."""
    import twinstar_gui.bots.backtest as engine
    from twinstar_gui.execution.trade_journal import Journal

    root, start = dataset
    monkeypatch.setenv("TWINSTAR_CONFIG", str(tmp_path / "none.json"))
    settings = data_dir_setting(load_settings(None), str(root))
    args = (settings, settings.trading, "okx", "unified", [NATIVE["okx"], SECOND["okx"]], start + 5 * DAY_MS,
            start + 20 * DAY_MS - 1)
    in_memory = run_backtest(*args).result
    monkeypatch.setattr(engine, "MemoryJournal", lambda: Journal(":memory:"))
    on_sqlite = run_backtest(*args).result
    assert in_memory.fills
    _same_run(in_memory, on_sqlite)


def test_a_bots_price_status_is_written_when_read():
    """UnifiedBot's status on each price of its position is formatted only when the panel reads it: the text is the
    last price's; a detail set after it wins."""
    from twinstar_gui.bots.unified import UnifiedBot
    from twinstar_gui.core.models import Candle
    from twinstar_gui.execution.paper import PaperExecutor
    from twinstar_gui.execution.trade_journal import MemoryJournal

    class Market:
        exchange = "bybit"

        def unified(self, native):
            return "BTC/USDT:USDT"

        def listed(self, native):
            return None

    ex = PaperExecutor(MemoryJournal(), clock=lambda: 0)
    bot = UnifiedBot("u", BotContext(Market(), ex, ex.journal), "BTCUSDT")
    ex.on_price("BTCUSDT", 100.0, 1)
    ex.place(OrderRequest("BTCUSDT", "buy", 1.0, "e1"))
    ex.on_price("BTCUSDT", 100.0, 2)
    for price in (101.0, 102.5, 103.0):
        bot.on_price("BTCUSDT", price, 3)
    detail = bot.snapshot().detail
    assert detail == "BTC/USDT:USDT long 1 @ 100.02, last 103, unrealized +2.98 USDT"  # slippage: 2 bps
    bot._set(detail="stopping")
    bot.on_closed("ETHUSDT", Candle(0, 1, 1, 1, 1, 1))  # another symbol's: nothing
    assert bot.snapshot().detail == "stopping"
