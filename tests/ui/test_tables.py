"""The data tables refresh in place every second: values, sort order, colours and column widths follow the
data, and no column re-measures every row on each cell change (ResizeToContents made an 80-row Scanner
refresh take 3.4 s of the GUI thread, freezing the window while the AutoScanner ran)."""
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView

from twinstar_gui.bots.base import Candidate
from twinstar_gui.ui.panels.trading_panels import GREEN, RED, ScannerPanel


def candidates(n):
    return [Candidate(f"S{i:02d}USDT", "bybit", 30.0 + i * 0.5, "long" if i % 2 else "short", 1.0 + i, 1.01 + i,
                      -0.5 + i * 0.01, "stage 1") for i in range(n)]


def test_a_scanner_refresh_updates_in_place_keeps_the_sort_and_widens_columns(qtbot):
    panel = ScannerPanel()
    qtbot.addWidget(panel)
    table, header = panel.table, panel.table.horizontalHeader()
    rows = candidates(80)
    panel.show_candidates(rows)
    assert table.rowCount() == 80
    assert all(header.sectionResizeMode(c) != QHeaderView.ResizeToContents for c in range(table.columnCount()))
    table.sortItems(2, Qt.DescendingOrder)  # by RSI, highest first
    assert table.item(0, 0).text() == "S79USDT" and table.item(0, 2).text() == "69.5"

    rows[79] = replace(rows[79], rsi=10.0)  # the top row's RSI falls: it sinks to the bottom
    panel.show_candidates(rows)
    assert table.item(0, 0).text() == "S78USDT" and table.item(79, 0).text() == "S79USDT"
    assert table.item(79, 2).text() == "10.0"
    colour = {table.item(r, 0).text(): table.item(r, 0).foreground().color().name() for r in range(80)}
    assert colour["S79USDT"] == QColor(GREEN).name() and colour["S78USDT"] == QColor(RED).name()  # long / short

    narrow = table.columnWidth(0)
    panel.show_candidates(rows + [replace(rows[0], symbol="A-MUCH-LONGER-SYMBOL-NAMEUSDT")])
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
    panel.show_candidates(rows)
    bot, rsi = ScannerPanel.COLUMNS.index("Bot"), ScannerPanel.COLUMNS.index("RSI")
    shown = sorted((panel.table.item(r, bot).text(), panel.table.item(r, rsi).text()) for r in range(2))
    assert shown == [("multi", "67.3 (15m)"), ("scanner", "41.0 (4h)")]
    panel.filter.setText("xrp multi")
    assert panel.table.rowCount() == 1 and panel.table.item(0, bot).text() == "multi"
