"""The WS health panel shows every stream state in its own colour, RTT, errors, REST fallback and a rate
sparkline per connection."""
from PySide6.QtGui import QColor

from twinstar_gui.net.ws import StreamHealth, StreamState
from twinstar_gui.ui.panels.health_panel import COLUMNS, SPARK_POINTS, HealthPanel
from twinstar_gui.ui.theme import STATE_COLOURS


def health(name, state=StreamState.LIVE, rate=12.5, fallback=False, exchange="bybit"):
    return StreamHealth(name, "ws://127.0.0.1:1", state, 2, 0.25, rate, 3, 1,
                        "" if state is StreamState.LIVE else f"why {state.value}", 0.042, exchange, fallback,
                        ("kline.15.BTCUSDT", "tickers.BTCUSDT"))


def test_every_state_is_shown_in_its_colour(qtbot):
    panel = HealthPanel()
    qtbot.addWidget(panel)
    rows = [health(f"conn-{s.value}", s) for s in StreamState]
    panel.show_rows(rows)
    assert panel.table.rowCount() == len(StreamState)
    colours = set()
    for r, s in enumerate(StreamState):
        assert panel.state_of(r) == s.value
        colour = panel.table.item(r, COLUMNS.index("State")).foreground().color()
        assert colour == QColor(STATE_COLOURS[s.value])
        colours.add(colour.name())
    assert len(colours) == len(StreamState)
    assert panel.text(0, "Ping RTT") == "42 ms" and panel.text(0, "Last error") == "why connecting"
    assert panel.text(0, "Exchange") == "bybit" and panel.text(0, "Topics") == "2"
    assert "tickers.BTCUSDT" in panel.table.item(0, COLUMNS.index("Topics")).toolTip()
    panel.show_rows(rows[:1])  # a connection went away
    assert panel.table.rowCount() == 1


def test_fallback_and_the_rate_sparkline_follow_each_connection(qtbot):
    panel = HealthPanel()
    qtbot.addWidget(panel)
    panel.resize(1200, 200)
    panel.show()
    for i in range(5):
        panel.show_rows([health("okx:1", rate=10.0 * i, exchange="okx"), health("bybit:1", rate=1.0)])
    assert panel.text(0, "REST fallback") == "-"
    assert panel.rate_history("okx:1") == [0.0, 10.0, 20.0, 30.0, 40.0]
    # bybit's stream goes unhealthy and REST takes over; rows come in another order
    panel.show_rows([health("bybit:1", StreamState.FALLBACK, rate=0.0, fallback=True), health("okx:1", rate=50.0,
                                                                                                exchange="okx")])
    assert panel.text(0, "Connection") == "bybit:1" and panel.text(0, "REST fallback") == "active"
    assert panel.rate_history("bybit:1")[-1] == 0.0 and panel.rate_history("okx:1")[-1] == 50.0
    assert list(panel.sparkline_at(1).values) == panel.rate_history("okx:1")  # the history moved with the row
    # only changed cells are touched: the colours moved with the rows too
    state = COLUMNS.index("State")
    assert panel.table.item(0, state).foreground().color() == QColor(STATE_COLOURS["fallback"])
    assert panel.table.item(1, state).foreground().color() == QColor(STATE_COLOURS["live"])
    assert panel.table.item(0, COLUMNS.index("REST fallback")).foreground().color() == QColor(
        STATE_COLOURS["fallback"])
    assert panel.text(1, "Exchange") == "okx" and panel.text(1, "Msg/s") == "50.0"
    for _ in range(SPARK_POINTS + 10):
        panel.show_rows([health("okx:1", rate=1.0, exchange="okx")])
    assert len(panel.rate_history("okx:1")) == SPARK_POINTS and panel.rate_history("bybit:1") == []
    image = panel.sparkline_at(0).grab().toImage()
    background = image.pixelColor(image.width() // 2, image.height() - 1)
    columns = {x for x in range(image.width()) for y in range(image.height()) if image.pixelColor(x, y) != background}
    assert len(columns) > image.width() * 0.9  # a full minute of history spans the cell


def test_a_column_the_user_widened_stays_wide_while_the_same_connections_refresh(qtbot):
    panel = HealthPanel()
    qtbot.addWidget(panel)
    rows = [health("bybit:1"), health("okx:1", exchange="okx")]
    panel.show_rows(rows)
    panel.table.setColumnWidth(COLUMNS.index("Connection"), 333)  # the user drags it wider
    for i in range(60):  # 15 s of polls
        panel.show_rows([health("bybit:1", rate=float(i)), health("okx:1", rate=1.0, exchange="okx")])
    assert panel.table.columnWidth(COLUMNS.index("Connection")) == 333
    panel.show_rows(rows[:1])  # a connection went away: the columns are fitted again
    assert panel.table.columnWidth(COLUMNS.index("Connection")) < 333
