"""The data tables refresh in place every second: values, sort order, colours and column widths follow the
data, and no column re-measures every row on each cell change (ResizeToContents made an 80-row Scanner
refresh take 3.4 s of the GUI thread, freezing the window while the AutoScanner ran)."""
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView

from twinstar_gui.bots.base import Candidate
from twinstar_gui.presenters.trading import Listing
from twinstar_gui.ui.panels.trading_panels import GREEN, RED, ScannerPanel


def candidates(n):
    return [Candidate(f"S{i:02d}USDT", "bybit", 30.0 + i * 0.5, "long" if i % 2 else "short", 1.0 + i, 1.01 + i,
                      -0.5 + i * 0.01, "stage 1") for i in range(n)]


def listed(rows):
    """Candidates as the presenter hands them over: each with how its instrument reads (here by its native id)."""
    return [(c, Listing(c.exchange, c.symbol, c.symbol)) for c in rows]


def test_a_scanner_refresh_updates_in_place_keeps_the_sort_and_widens_columns(qtbot):
    panel = ScannerPanel()
    qtbot.addWidget(panel)
    table, header = panel.table, panel.table.horizontalHeader()
    rows = candidates(80)
    panel.show_candidates(listed(rows))
    assert table.rowCount() == 80
    assert all(header.sectionResizeMode(c) != QHeaderView.ResizeToContents for c in range(table.columnCount()))
    table.sortItems(2, Qt.DescendingOrder)  # by RSI, highest first
    assert table.item(0, 0).text() == "S79USDT" and table.item(0, 2).text() == "69.5"

    rows[79] = replace(rows[79], rsi=10.0)  # the top row's RSI falls: it sinks to the bottom
    panel.show_candidates(listed(rows))
    assert table.item(0, 0).text() == "S78USDT" and table.item(79, 0).text() == "S79USDT"
    assert table.item(79, 2).text() == "10.0"
    colour = {table.item(r, 0).text(): table.item(r, 0).foreground().color().name() for r in range(80)}
    assert colour["S79USDT"] == QColor(GREEN).name() and colour["S78USDT"] == QColor(RED).name()  # long / short

    narrow = table.columnWidth(0)
    panel.show_candidates(listed(rows + [replace(rows[0], symbol="A-MUCH-LONGER-SYMBOL-NAMEUSDT")]))
    assert table.rowCount() == 81 and table.columnWidth(0) > narrow  # sized to the new text, once


def test_a_cell_that_turns_numeric_is_aligned_right(qtbot):
    """Numbers align right whenever they arrive, not only in a cell's first fill ("-" first, a price later)."""
    from PySide6.QtWidgets import QWidget

    from twinstar_gui.ui.panels.table import fill, make_table

    parent = QWidget()
    qtbot.addWidget(parent)
    table = make_table(["Symbol", "Price"], parent)
    fill(table, [[("BTCUSDT", "BTCUSDT"), ("-", "")]])
    fill(table, [[("BTCUSDT", "BTCUSDT"), ("58,744.5", 58744.5)]])
    assert table.item(0, 1).textAlignment() & Qt.AlignRight
    assert not table.item(0, 0).textAlignment() & Qt.AlignRight


def test_each_scanner_row_names_the_bot_that_found_it_and_the_filter_takes_it(qtbot):
    panel = ScannerPanel()
    qtbot.addWidget(panel)
    scanned, multi = candidates(2)
    rows = [replace(scanned, symbol="XRPUSDT", bot="scanner", rsi=41.04, rsi_timeframe="4h"),
            replace(multi, symbol="XRPUSDT", bot="multi", rsi=67.3, rsi_timeframe="15m")]
    panel.show_candidates(listed(rows))
    bot, rsi = ScannerPanel.COLUMNS.index("Bot"), ScannerPanel.COLUMNS.index("RSI")
    shown = sorted((panel.table.item(r, bot).text(), panel.table.item(r, rsi).text()) for r in range(2))
    assert shown == [("multi", "67.3 (15m)"), ("scanner", "41.0 (4h)")]
    panel.filter.setText("xrp multi")
    assert panel.table.rowCount() == 1 and panel.table.item(0, bot).text() == "multi"


def test_positions_and_fills_read_in_unified_symbols_at_each_instruments_tick_and_close_by_native_id(qtbot):
    """A trader reads `BTC/KRW` at 84,501,000 (its 1,000-won step) and `BTC/USDT:USDT` at 65,000.1 (tick 0.1), PnL
    in each venue's currency; closing a row asks for the exchange's own id (what the executor holds)."""
    from twinstar_gui.core.instrument import Instrument
    from twinstar_gui.exchanges.upbit import KRW_TICKS
    from twinstar_gui.execution.base import Fill, Position
    from twinstar_gui.presenters.trading import FillView, PositionView
    from twinstar_gui.ui.panels.trading_panels import PositionsPanel

    krw = Listing("upbit", "KRW-BTC", "BTC/KRW", Instrument("upbit", "BTC/KRW", "KRW-BTC", "BTC", "KRW", "", "spot",
                                                           0.0, 1e-8, 1e-8, 5000.0, tick_table=KRW_TICKS))
    perp = Listing("okx", "BTC-USDT-SWAP", "BTC/USDT:USDT",
                   Instrument("okx", "BTC/USDT:USDT", "BTC-USDT-SWAP", "BTC", "USDT", "USDT", "swap", 0.1, 0.01, 0.01,
                              0.0, contract_size=0.01))
    fills = [FillView(perp, Fill("o1", "c1", "BTC-USDT-SWAP", "buy", 0.5, 65000.1, 16.25, 1_700_000_000_000), "USDT")]
    panel = PositionsPanel(lambda: fills)
    qtbot.addWidget(panel)
    panel.show_positions([
        PositionView(krw, Position("KRW-BTC", 0.0012, 84_501_000.0, 1_700_000_000_000, bot="scanner",
                                   take_profit=86_000_000.0, mark_price=84_000_000.0), "KRW"),
        PositionView(perp, Position("BTC-USDT-SWAP", 0.5, 65_000.1, 1_700_000_000_000, mark_price=65_100.0), "USDT")])
    table = panel.open_table
    col = {name: i for i, name in enumerate(PositionsPanel.OPEN)}
    rows = {table.item(r, col["Symbol"]).text(): r for r in range(table.rowCount())}
    assert set(rows) == {"BTC/KRW", "BTC/USDT:USDT"}
    k, u = rows["BTC/KRW"], rows["BTC/USDT:USDT"]
    assert table.item(k, col["Entry"]).text() == "84,501,000" and table.item(k, col["TP"]).text() == "86,000,000"
    assert table.item(k, col["Unrealized PnL"]).text() == "-601.20 KRW"
    assert table.item(u, col["Entry"]).text() == "65,000.1" and table.item(u, col["Mark"]).text() == "65,100.0"
    assert table.item(u, col["Size"]).text() == "0.50" and table.item(u, col["SL"]).text() == "-"
    assert "-601.20 KRW" in panel.totals.text() and "+49.95 USDT" in panel.totals.text()

    panel.refresh_history()
    hist = panel.history_table
    hcol = {name: i for i, name in enumerate(PositionsPanel.HISTORY)}
    assert hist.item(0, hcol["Symbol"]).text() == "BTC/USDT:USDT" and hist.item(0, hcol["Price"]).text() == "65,000.1"

    asked = []
    panel.close_requested.connect(lambda ex, sym: asked.append((ex, sym)))
    table.selectRow(k)
    panel._close_selected()
    assert asked == [("upbit", "KRW-BTC")]


def test_an_unchanged_refresh_touches_no_cell_and_a_changed_row_or_a_cleared_table_is_redrawn(qtbot):
    """fill() keeps what it showed: the same rows again cost no call into Qt (a cell changed behind its back stays
    as it is, which shows nothing was rewritten); a changed row is rewritten, and only it; a table emptied by
    someone else is filled again."""
    from PySide6.QtWidgets import QWidget

    from twinstar_gui.ui.panels.table import fill, make_table

    parent = QWidget()
    qtbot.addWidget(parent)
    table = make_table(["Symbol", "Price"], parent)
    rows = [[("BTCUSDT", "BTCUSDT"), ("1.0", 1.0)], [("ETHUSDT", "ETHUSDT"), ("2.0", 2.0)]]
    fill(table, rows, colours={1: GREEN})
    table.item(0, 0).setText("marker")  # behind fill's back
    fill(table, [list(r) for r in rows], colours={1: GREEN})
    assert table.item(0, 0).text() == "marker"
    fill(table, [rows[0], [("ETHUSDT", "ETHUSDT"), ("2.5", 2.5)]], colours={1: RED})
    assert table.item(1, 1).text() == "2.5" and table.item(1, 0).foreground().color() == QColor(RED)
    assert table.item(0, 0).text() == "marker"  # row 0 did not change: not rewritten
    fill(table, [[("XRPUSDT", "XRPUSDT"), ("0.5", 0.5)], rows[1]])
    assert table.item(0, 0).text() == "XRPUSDT"
    table.setRowCount(0)
    fill(table, [[("XRPUSDT", "XRPUSDT"), ("0.5", 0.5)], rows[1]])
    assert table.rowCount() == 2 and table.item(0, 0).text() == "XRPUSDT" and table.item(1, 1).text() == "2.0"


def test_a_fill_that_fails_halfway_is_not_taken_for_done(qtbot):
    """A row that cannot be shown (a text that is not text) raises; the same rows again must raise again, not be
    skipped as 'shown already' with the table half filled."""
    import pytest
    from PySide6.QtWidgets import QWidget

    from twinstar_gui.ui.panels.table import fill, make_table

    parent = QWidget()
    qtbot.addWidget(parent)
    table = make_table(["Symbol", "Price"], parent)
    bad = [[("BTCUSDT", "BTCUSDT"), (object(), 1.0)]]
    with pytest.raises(TypeError):
        fill(table, bad)
    with pytest.raises(TypeError):
        fill(table, bad)
    fill(table, [[("BTCUSDT", "BTCUSDT"), ("1.0", 1.0)]])
    assert table.item(0, 1).text() == "1.0"


def test_a_history_table_is_read_only_while_it_is_on_screen(qtbot):
    """The positions panel's trade history reads the journals: every 2 s while its tab is shown, at once when the
    tab is picked, never while the panel is hidden or another tab is on top."""
    from twinstar_gui.ui.panels.trading_panels import PositionsPanel

    reads = []
    panel = PositionsPanel(lambda: reads.append(1) or [])
    qtbot.addWidget(panel)
    panel._history_refresh.timer.setInterval(20)
    qtbot.wait(150)
    assert reads == []  # never shown
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.wait(150)
    assert reads == []  # shown, but the "Open" tab is on top
    panel.tabs.setCurrentWidget(panel.history_table)
    qtbot.waitUntil(lambda: len(reads) >= 3, timeout=3000)  # at once, then on the timer
    panel.hide()
    qtbot.wait(30)
    seen = len(reads)
    qtbot.wait(150)
    assert len(reads) == seen
