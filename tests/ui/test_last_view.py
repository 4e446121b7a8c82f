"""The chart's last view: kept in the data dir at shutdown, painted by the next start before the back end exists;
a damaged or hostile file is ignored with a warning naming it, never trusted."""
import io
import json
import logging
import zipfile

import numpy as np
import pytest

from twinstar_gui.ui.last_view import FILE_NAME, MAX_ROWS, LastView, load_last_view, save_last_view

T0 = 1_764_000_000_000
Q = 900_000


def rows(n: int = 300, price: float = 84_500_000.0) -> np.ndarray:
    c = price + np.cumsum(np.random.default_rng(2).normal(0, price * 0.001, n))
    return np.column_stack([T0 + np.arange(n) * Q, c, c * 1.001, c * 0.999, c, np.full(n, 3.0)])


def test_a_view_comes_back_as_it_was_saved_read_only(tmp_path):
    view = LastView("upbit", "KRW-BTC", "BTC/KRW", "1h", rows())
    assert save_last_view(tmp_path, view)
    back = load_last_view(tmp_path)
    assert back is not None and (back.exchange, back.symbol, back.unified, back.timeframe) == (
        "upbit", "KRW-BTC", "BTC/KRW", "1h")
    np.testing.assert_array_equal(back.rows, view.rows)
    assert not back.rows.flags.writeable
    assert back.choices() == {"upbit": ["KRW-BTC"]} and back.name_of("upbit", "KRW-BTC") == "BTC/KRW"
    assert back.name_of("bithumb", "KRW-BTC") == "KRW-BTC"
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary file, renamed into place


def test_a_long_window_keeps_its_newest_rows(tmp_path):
    many = rows(MAX_ROWS + 500)
    save_last_view(tmp_path, LastView("bybit", "BTCUSDT", "BTC/USDT:USDT", "15m", many))
    back = load_last_view(tmp_path)
    assert back is not None and len(back.rows) == MAX_ROWS and back.rows[-1, 0] == many[-1, 0]


def test_no_file_is_no_view_and_no_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert load_last_view(tmp_path) is None
    assert not caplog.records


def _npz(path, **arrays) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def _meta(**over) -> np.ndarray:
    meta = {"exchange": "okx", "symbol": "BTC-USDT-SWAP", "unified": "BTC/USDT:USDT", "timeframe": "15m", **over}
    return np.array(json.dumps(meta))


@pytest.mark.parametrize("case, why", [
    ("garbage", "not a zip"),
    ("pickled", "object array"),
    ("shape", "(50, 5)"),
    ("nan", "not finite"),
    ("negative", "negative"),
    ("unsorted", "increasing"),
    ("path_name", "not a name"),
    ("huge_name", "not a name"),
    ("tf", "timeframe"),
    ("meta_list", "not an object"),
    ("no_rows", "missing"),
    ("too_big", "bytes"),
])
def test_a_damaged_or_hostile_file_is_ignored_with_a_warning_naming_it(tmp_path, caplog, case, why):
    path = tmp_path / FILE_NAME
    good = rows(50)
    if case == "garbage":
        path.write_bytes(b"\x00\x01 not a zip file at all")
    elif case == "pickled":
        _npz(path, rows=np.array([{"a": 1}], dtype=object), meta=_meta())
    elif case == "shape":
        _npz(path, rows=good[:, :5], meta=_meta())
    elif case == "nan":
        bad = good.copy()
        bad[7, 3] = np.nan
        _npz(path, rows=bad, meta=_meta())
    elif case == "negative":
        bad = good.copy()
        bad[7, 4] = -1.0
        _npz(path, rows=bad, meta=_meta())
    elif case == "unsorted":
        _npz(path, rows=good[::-1].copy(), meta=_meta())
    elif case == "path_name":
        _npz(path, rows=good, meta=_meta(exchange="../../etc"))
    elif case == "huge_name":
        _npz(path, rows=good, meta=_meta(symbol="A" * 500))
    elif case == "tf":
        _npz(path, rows=good, meta=_meta(timeframe="7m"))
    elif case == "meta_list":
        _npz(path, rows=good, meta=np.array(json.dumps(["okx"])))
    elif case == "no_rows":
        _npz(path, meta=_meta())
    elif case == "too_big":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("padding.bin", np.random.default_rng(1).bytes(5 * 1024 * 1024))
    with caplog.at_level(logging.WARNING, logger="twinstar_gui.ui.last_view"):
        assert load_last_view(tmp_path) is None
    text = " ".join(r.getMessage() for r in caplog.records)
    assert str(path) in text, text
    if case in ("shape", "nan", "negative", "unsorted", "path_name", "huge_name", "tf", "meta_list", "too_big"):
        assert why in text, text


def test_a_view_that_cannot_be_written_is_said_and_leaves_nothing_behind(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING):
        assert not save_last_view(blocker, LastView("bybit", "BTCUSDT", "BTC/USDT:USDT", "15m", rows(10)))
    assert "could not keep" in caplog.text and blocker.read_text() == "not a directory"


# -- the window: the last view first, the presenters after ------------------------------------------------------
async def test_the_window_paints_the_last_view_before_any_presenter_then_streams_that_series(tmp_path, qapp):
    """What `twinstar` does at start: the window with the stored view (its series, timeframe and unified name
    picked, the Bots panel there for the layout), then the core and presenters attached: the presenter takes over
    the same series and timeframe, the trader's last one (not the first symbol of the first exchange)."""
    from waiting import wait_for

    from twinstar_gui.config import settings_from_dict
    from twinstar_gui.core.models import Candle
    from twinstar_gui.core.timeframe import Timeframe
    from twinstar_gui.data.manager import frame_of
    from twinstar_gui.presenters.chart import ChartPresenter
    from twinstar_gui.presenters.health import HealthPresenter
    from twinstar_gui.presenters.log import LogPresenter
    from twinstar_gui.ui.main_window import MainWindow
    from twinstar_gui.wiring import build_core

    closed = "http://127.0.0.1:9"
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "exchanges": {
        "bybit": {"rest_url": closed, "ws_url": "ws://127.0.0.1:9/ws", "symbols": ["BTCUSDT", "ETHUSDT"]}}})
    hourly = rows(200, 65_000.0)
    hourly[:, 0] = T0 + np.arange(200) * 4 * Q
    view = LastView("bybit", "ETHUSDT", "ETH/USDT:USDT", "1h", hourly)
    window = MainWindow(mode="TEST", data_dir=str(tmp_path), persist_layout=False, early=view,
                        trading_exchanges=["bybit"])
    window.show()
    panel = window.chart_panel
    assert panel.candle_count() == 200 and panel.symbol == "ETHUSDT" and panel.tf is Timeframe.H1
    assert panel.symbol_box.currentText() == "ETH/USDT:USDT" and panel.tf_box.currentText() == "1h"
    assert window.bots_panel is not None and window.chart_presenter is None

    core = build_core(settings, engine=False)  # series driven by hand on this loop
    frame_rows = rows(800, 3_000.0)
    core.store.append("bybit", "ETHUSDT", frame_of([Candle(int(r[0]), *r[1:6]) for r in frame_rows]), source="rest")
    for s in core.feeds["bybit"].series.values():
        await s.load_history()
    chart = ChartPresenter(core.feeds, catalogs=core.catalogs, engine=core.engine)
    logs = LogPresenter()
    try:
        window.attach(chart, HealthPresenter(core.feeds, writer=core.writer, engine=core.engine), logs)
        await wait_for(lambda: chart.symbol == "ETHUSDT", what="the presenter on the last view's series")
        assert (chart.exchange, chart.tf) == ("bybit", Timeframe.H1)
        await wait_for(lambda: panel.candle_count() and panel.shown_rows()[-1, 4] == pytest.approx(
            float(core.feeds["bybit"].series["ETHUSDT"].candles[Timeframe.H1].array()[-1, 4])),
            what="the stored history through the presenter")
        offered = [panel.symbol_box.itemData(i) for i in range(panel.symbol_box.count())]
        assert offered == ["BTCUSDT", "ETHUSDT"] and panel.symbol_box.currentData() == "ETHUSDT"
    finally:
        chart.close()
        await core.shutdown(budget=2.0)
        window.allow_close()
        window.close()
        logs.close()
