"""Trading by hand in the window (offscreen, pytest-qt), paper, against the simulator on loopback: the ticket's
checks at each field, an order from the ticket and from the chart's menu, its line on the chart dragged to
amend it (the executor has the new price; a refused drag snaps back and says why), the ✕ cancel control, a
position's TP and SL moved and removed on the chart, the orders panel's cancel-all and CSV export."""
import asyncio
import csv

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from scripted import trading_env
from waiting import wait_for

from twinstar_gui.presenters.chart import ChartPresenter
from twinstar_gui.presenters.health import HealthPresenter
from twinstar_gui.presenters.log import LogPresenter
from twinstar_gui.presenters.trading import TradingPresenter
from twinstar_gui.trading_stack import Trading
from twinstar_gui.ui.main_window import MainWindow

pytestmark = pytest.mark.e2e
SYM = "ETHUSDT"


async def open_window(core, ctx, tmp_path):
    await asyncio.to_thread(ctx.market.catalog.ensure)  # the instrument list: ticks and minimums for the ticket
    presenter = TradingPresenter(core.settings)
    logs = LogPresenter()
    window = MainWindow(ChartPresenter(core.feeds, engine=core.engine), HealthPresenter(core.feeds, engine=core.engine),
                        logs, mode="TEST", data_dir=str(tmp_path), persist_layout=False, trading=presenter)
    trading = Trading(ctx.journal, ctx.executor, ctx.market)
    presenter.attach({"bybit": trading})
    window.resize(1400, 900)
    window.show()
    await wait_for(lambda: window.chart_panel.symbol == SYM and window.chart_panel.candle_count() > 20,
                   what="the chart")
    await wait_for(lambda: ctx.executor.last_price.get(SYM), what="a price for the paper executor")
    return window, trading, logs


async def close_window(window, trading, logs):
    window.manual.close()
    window.trading.close()
    await trading.stop()
    window.allow_close()
    window.close()
    logs.close()


def line_point(window, price):
    """Viewport coordinates of a price on the chart, in the middle of the price plot."""
    vb = window.chart_panel.price_plot.getViewBox()
    (x0, x1), _ = vb.viewRange()
    scene = vb.mapViewToScene(QPointF((x0 + x1) / 2, price))
    return window.chart_panel.plots.mapFromScene(scene)


def drag(window, price_from, price_to):
    """A left-button drag on the chart's viewport, as a mouse makes it (press, moves, release)."""
    view = window.chart_panel.plots
    vp = view.viewport()
    start, end = line_point(window, price_from), line_point(window, price_to)

    def send(kind, pos, button, buttons):
        p = QPointF(pos)
        QApplication.sendEvent(vp, QMouseEvent(kind, p, QPointF(vp.mapToGlobal(pos)), button, buttons,
                                               Qt.KeyboardModifier.NoModifier))

    send(QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    for i in range(1, 9):
        pos = start + (end - start) * (i / 8)
        send(QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)


def level_line(window, kind, key=None):
    return next((line for (k, name), line in window.chart_panel.levels.lines.items()
                 if k == kind and (key is None or name == key)), None)


async def test_a_manual_trade_from_the_ticket_and_the_chart(tmp_path, qapp):
    async with trading_env(tmp_path, [], {SYM: {}}, feed_symbols=[SYM]) as (sim, core, ctx):
        window, trading, logs = await open_window(core, ctx, tmp_path)
        ticket, paper = window.ticket, ctx.executor.inner
        try:
            last = ctx.executor.last_price[SYM]
            tick = paper.rules(SYM).tick_size
            assert ticket.symbol.text() == "ETH/USDT:USDT"  # the chart's series
            # nothing changes (no order, no position): the panels and the chart are not told anything again
            told = []
            window.manual.orders.connect(told.append)
            window.manual.levels.connect(told.append)
            await asyncio.sleep(1.0)  # four polls
            assert told == []
            # -- the checks at each field ------------------------------------------------------------------
            ticket.amount.setText("0.00001")
            assert ticket.error_field == "qty" and "below the minimum" in ticket.error
            assert not ticket.buy.isEnabled() and "border" in ticket.amount.styleSheet()
            ticket.amount.setText("0.3")
            assert ticket.error_field == "" and ticket.buy.isEnabled() and "ETH" in ticket.summary.text()
            ticket.type.setCurrentText("Limit")
            ticket.price.setText(f"{last * 0.95 + tick / 3:.6f}")
            assert ticket.error_field == "price" and "off the tick grid" in ticket.error
            ticket.price.editingFinished.emit()  # leaving the field puts the price on the grid
            assert ticket.error_field == ""
            ticket.post_only.setChecked(True)
            ticket.price.setText(f"{round(last * 1.05 / tick) * tick:.6f}")
            ticket.request("buy")
            assert ticket.error_field == "post_only" and "would take liquidity" in ticket.error
            below = round(last * 0.95 / tick) * tick
            ticket.price.setText(f"{below:.6f}")
            ticket.unit.setCurrentIndex(1)  # the size as an order value in USDT
            ticket.amount.setText("2")
            assert ticket.error_field == "notional" and "USDT buys" in ticket.error
            ticket.unit.setCurrentIndex(0)
            ticket.amount.setText("0.3")
            assert paper.open_orders() == []  # nothing refused ever reached the executor
            # -- a limit from the ticket: in the orders panel and on the chart ------------------------------
            ticket.buy.click()
            await wait_for(lambda: len(paper.open_orders()) == 1, what="the order at the executor")
            (order,) = paper.open_orders()
            assert (order.side, order.type, order.bot, order.post_only) == ("buy", "limit", "manual", True)
            await wait_for(lambda: window.orders_panel.open_table.rowCount() == 1, what="the orders panel")
            await wait_for(lambda: level_line(window, "order", order.id) is not None, what="its line on the chart")
            # -- dragged on the chart: amended at the executor ----------------------------------------------
            line = level_line(window, "order", order.id)
            window.chart_panel.price_plot.getViewBox().setYRange(last * 0.8, last * 1.25, padding=0)  # all in view
            target = last * 0.90
            drag(window, line.value(), target)
            await wait_for(lambda: abs(paper.open_orders()[0].price - target) < last * 0.01,
                           what="the amend reaching the executor")
            moved = paper.open_orders()[0].price
            assert moved == pytest.approx(round(moved / tick) * tick)  # on the grid
            await wait_for(lambda: level_line(window, "order", order.id).value() == pytest.approx(moved),
                           what="the line at the executor's price")
            # -- a refused drag (post-only above the market) snaps back and says why ------------------------
            drag(window, moved, last * 1.04)
            await wait_for(lambda: "would take liquidity" in window.statusBar().currentMessage(),
                           what="the refusal said")
            await wait_for(lambda: level_line(window, "order", order.id).value() == pytest.approx(moved),
                           what="the line back where the executor has it")
            assert paper.open_orders()[0].price == moved
            # -- the ✕ cancels it ---------------------------------------------------------------------------
            level_line(window, "order", order.id).cancel_mark.on_click()
            await wait_for(lambda: paper.open_orders() == [], what="cancelled")
            await wait_for(lambda: level_line(window, "order") is None, what="its line gone")
            # -- from the chart's menu: a buy limit below the market, with the ticket's size ----------------
            panel = window.chart_panel
            panel.menu_price = below
            panel._prepare_order_actions()
            action = panel.order_actions[0]
            assert action.isVisible() and action.text().startswith("Buy limit at")
            action.trigger()
            await wait_for(lambda: len(paper.open_orders()) == 1, what="the chart's order")
            assert paper.open_orders()[0].price == pytest.approx(below)
            # -- a market buy with TP and SL: the position's lines ------------------------------------------
            ticket.type.setCurrentText("Market")
            ticket.tp.setText(f"{round(last * 1.2 / tick) * tick:.6f}")
            ticket.sl.setText(f"{round(last * 0.8 / tick) * tick:.6f}")
            assert ticket.error_field == "", ticket.error
            ticket.buy.click()
            await wait_for(lambda: paper.positions(), what="the position")
            await wait_for(lambda: level_line(window, "sl") is not None and level_line(window, "entry") is not None,
                           what="entry and stop-loss lines")
            sl = level_line(window, "sl")
            new_sl = last * 0.85
            drag(window, sl.value(), new_sl)
            await wait_for(lambda: abs(paper.positions()[0].stop_loss - new_sl) < last * 0.01,
                           what="the stop loss moved at the executor")
            level_line(window, "tp").cancel_mark.on_click()
            await wait_for(lambda: paper.positions()[0].take_profit is None, what="the take profit removed")
            await wait_for(lambda: level_line(window, "tp") is None, what="its line gone")
            # -- the orders panel: cancel-all of the symbol, history exported --------------------------------
            orders = window.orders_panel
            await wait_for(lambda: orders.open_table.rowCount() == 1, what="the resting order listed")
            orders.open_table.selectRow(0)
            orders.cancel_all_button.click()
            await wait_for(lambda: paper.open_orders() == [], what="cancel-all")
            orders.refresh_history()
            out = tmp_path / "orders.csv"
            orders.export_csv(str(out))
            rows = list(csv.DictReader(out.open()))
            assert {r["Status"] for r in rows} >= {"cancelled", "filled"}
            assert all(r["Owner"] == "manual" for r in rows) and all(r["Symbol"] == "ETH/USDT:USDT" for r in rows)
            assert any(float(r["Price"] or 0) == pytest.approx(below) for r in rows)
        finally:
            await close_window(window, trading, logs)


async def test_a_manual_trade_in_live_mode_through_the_signed_api(tmp_path, qapp):
    """The same by hand in LIVE mode on the simulator's Bybit account: every order confirmed first, then signed
    and sent; the chart's lines are the exchange's orders and position (amend, ✕, SL dragged), the position
    closed from the Positions panel after its question."""
    from twinstar_gui.secrets import ApiKeys, save_keys
    from twinstar_gui.trading_stack import rebuild_trading

    key, secret = "manualKey77", "manualSecret99"
    async with trading_env(tmp_path, [], {SYM: {}}, feed_symbols=[SYM], trade_api=True) as (sim, core, ctx):
        account = sim.add_account(key, secret, balance=5_000.0)
        save_keys(ApiKeys("bybit", key, secret))
        window, trading, logs = await open_window(core, ctx, tmp_path)
        presenter = window.trading
        presenter.rebuild = lambda ex, live: rebuild_trading(core, ex, live)
        ticket = window.ticket
        try:
            panel = window.bots_panel
            panel.live_button.click()
            await wait_for(lambda: panel.confirm_box is not None and panel.confirm_box.isVisible(), what="question")
            next(b for b in panel.confirm_box.buttons() if b.text().startswith("Trade live")).click()
            await wait_for(lambda: panel.is_live("bybit"), timeout=20, what="live mode")
            assert ticket.mode.text() == "LIVE: real orders"
            live = presenter.tradings["bybit"].executor
            last = sim.market.last_price(SYM)
            tick = live.rules(SYM).tick_size
            below = round(last * 0.95 / tick) * tick

            async def send(side):
                ticket.request(side)
                await wait_for(lambda: ticket.confirm_box is not None and ticket.confirm_box.isVisible(),
                               what="the live order's confirmation")
                text = ticket.confirm_box.text()
                next(b for b in ticket.confirm_box.buttons() if b.text() == "Send to bybit").click()
                return text

            # -- a limit: confirmed, signed, resting at the exchange, on the chart ------------------------------
            ticket.type.setCurrentText("Limit")
            ticket.amount.setText("0.2")
            ticket.price.setText(f"{below:.6f}")
            said = await send("buy")
            assert "LIVE on bybit: BUY LIMIT 0.2 ETH/USDT:USDT" in said and "client order id TSm" in said
            await wait_for(lambda: any(o.status == "New" for o in account.orders.values()), timeout=10,
                           what="the order at the exchange")
            (sent,) = [o for o in account.orders.values() if o.status == "New"]
            assert (sent.symbol, sent.side, sent.qty, sent.price) == (SYM, "Buy", 0.2, pytest.approx(below))
            await wait_for(lambda: level_line(window, "order", sent.order_id) is not None, what="its line")
            # -- dragged: amended at the exchange (the same order) -------------------------------------------
            window.chart_panel.price_plot.getViewBox().setYRange(last * 0.8, last * 1.25, padding=0)
            target = last * 0.90
            drag(window, level_line(window, "order", sent.order_id).value(), target)
            await wait_for(lambda: abs(sent.price - target) < last * 0.01, timeout=10, what="amended at the exchange")
            assert ("POST", "/v5/order/amend") in account.requests
            # -- ✕: cancelled at the exchange ----------------------------------------------------------------
            await wait_for(lambda: level_line(window, "order", sent.order_id).value() == pytest.approx(sent.price),
                           what="the line at the exchange's price")
            level_line(window, "order", sent.order_id).cancel_mark.on_click()
            await wait_for(lambda: sent.status == "Cancelled", timeout=10, what="cancelled at the exchange")
            # -- a market buy with TP and SL; the SL dragged: the exchange's position follows -------------------
            ticket.type.setCurrentText("Market")
            ticket.tp.setText(f"{round(last * 1.2 / tick) * tick:.6f}")
            ticket.sl.setText(f"{round(last * 0.8 / tick) * tick:.6f}")
            await send("buy")
            await wait_for(lambda: account.positions.get(SYM) is not None and account.positions[SYM].qty > 0,
                           timeout=10, what="the position at the exchange")
            await wait_for(lambda: level_line(window, "sl") is not None, timeout=10, what="its stop-loss line")
            new_sl = last * 0.85
            drag(window, level_line(window, "sl").value(), new_sl)
            await wait_for(lambda: abs(account.positions[SYM].stop_loss - new_sl) < last * 0.01, timeout=10,
                           what="the exchange's stop loss moved")
            # -- closed from the Positions panel, after its question --------------------------------------------
            positions = window.positions_panel
            await wait_for(lambda: positions.open_table.rowCount() == 1, what="the live position listed")
            positions.open_table.selectRow(0)
            positions.close_button.click()
            box = next(w for w in positions.findChildren(type(ticket.confirm_box)) if w.isVisible())
            box.accept()
            await wait_for(lambda: account.positions[SYM].qty == 0, timeout=10, what="closed at the exchange")
            shown = window.log_panel.text.toPlainText() + window.statusBar().currentMessage()
            assert key not in shown and secret not in shown
        finally:
            tradings = list(presenter.tradings.values())
            window.manual.close()
            presenter.close()
            for t in tradings:
                await t.stop()
            window.allow_close()
            window.close()
            logs.close()


def test_the_ticket_searches_the_exchanges_catalog_and_marks_a_bad_field(qapp):
    from twinstar_gui.execution.base import InstrumentRules
    from twinstar_gui.execution.manual import ManualOrder, prepare
    from twinstar_gui.presenters.manual import Ticket
    from twinstar_gui.ui.panels.order_ticket import OrderTicket

    rules = InstrumentRules("KRW-BTC", 1.0, 1e-8, 1e-8, 5000.0, ((1_000_000.0, 1000.0), (0.0, 1.0)), "KRW")
    t = Ticket("upbit", "KRW-BTC", "BTC/KRW", rules, 85_000_000.0, 0.0, True, 0.0005, False)

    def lookup(exchange, text):
        return t

    def check(exchange, text, order):
        return t, prepare(ManualOrder("KRW-BTC", **order), rules, t.last, spot=True, fee_rate=t.fee_rate)

    ticket = OrderTicket(["bybit", "upbit"], check, lookup)
    try:
        ticket.set_catalog("upbit", ["BTC/KRW", "ETH/KRW", "SOL/KRW"])
        ticket.set_catalog("bybit", ["BTC/USDT:USDT"])
        ticket.exchange.setCurrentText("upbit")
        assert ticket.completer.symbols() == ["BTC/KRW", "ETH/KRW", "SOL/KRW"]
        ticket.symbol.setText("BTC/KRW")
        ticket.type.setCurrentText("Limit")
        ticket.unit.setCurrentIndex(1)
        ticket.amount.setText("100,000")  # thousands separators are fine
        ticket.price.setText("84945500")
        assert ticket.error_field == "price" and "84,945,000 or 84,946,000" in ticket.error
        ticket.price.editingFinished.emit()
        assert ticket.price.text() == "84946000" and ticket.error_field == ""
        assert ticket.unit.currentText() == "KRW" and "KRW" in ticket.summary.text() and ".00 KRW" not in \
            ticket.summary.text()  # won without fractions
        ticket.price.setText("abc")
        assert ticket.error_field == "price" and "not a number" in ticket.error
        sent = []
        ticket.submitted.connect(lambda ex, ready: sent.append((ex, ready)))
        ticket.price.setText("84946000")
        ticket.request("sell")  # spot: nothing held to sell
        assert sent == [] and ticket.error_field == "notional" and "sells only what is held" in ticket.error
        ticket.request("buy")
        assert [(ex, r.request.side, r.request.price) for ex, r in sent] == [("upbit", "buy", 84_946_000.0)]
    finally:
        ticket.deleteLater()
