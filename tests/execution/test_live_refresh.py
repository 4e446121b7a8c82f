"""LiveExecutor and the risk guard when the exchange changes between our HTTP calls.

The interleavings (a fill landing between two fetches of one refresh, two refreshes overlapping, an order in
flight while the kill switch is pressed) cannot be placed on the simulator at will, so the ccxt client here is
a scripted stand-in: a tiny in-memory exchange that fills and answers at the chosen moment. The live
executor's real path through ccxt and the simulator is in test_live_executor.py.
"""
import threading

import pytest

from twinstar_gui.core.risk_limits import RiskLimits
from twinstar_gui.execution.base import OrderRequest, symbols_in_play
from twinstar_gui.execution.live import LiveExecutor
from twinstar_gui.execution.risk import RiskGuard
from twinstar_gui.execution.trade_journal import Journal

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
MARKETS = {s: {"id": s.split("/")[0] + "USDT", "symbol": s, "swap": True,
               "precision": {"price": 0.1, "amount": 0.001}, "limits": {}} for s in (BTC, ETH)}


class ScriptedExchange:
    markets = MARKETS

    def __init__(self, total: float = 1_000.0) -> None:
        self.orders: list[dict] = []
        self.positions: dict[str, dict] = {}
        self.total = total
        self.after_fetch = lambda: None
        self.hold: tuple[str, threading.Event, threading.Event] | None = None  # (client id, inside, release)
        self.ids = iter(range(1, 10_000))
        self.closed: list[dict] = []

    # -- the exchange's side ----------------------------------------------------------------------------
    def rest(self, symbol, side, qty, price, client_id):
        self.orders.append({"id": str(next(self.ids)), "clientOrderId": client_id, "symbol": symbol, "side": side,
                            "amount": qty, "type": "limit", "price": price, "reduceOnly": False})

    def fill(self, symbol=BTC, price=50_000.0) -> None:
        for o in [o for o in self.orders if o["symbol"] == symbol]:
            self.orders.remove(o)
            self.trade(symbol, o["side"], o["amount"], price)
            self.closed.append({**o, "status": "closed", "filled": o["amount"], "average": price})

    def trade(self, symbol, side, qty, price) -> None:
        signed = qty if side == "buy" else -qty
        held = self.positions.get(symbol, {}).get("signed", 0.0) + signed
        if abs(held) < 1e-12:
            self.positions.pop(symbol, None)
        else:
            self.positions[symbol] = {"symbol": symbol, "signed": held, "entryPrice": price, "markPrice": price}

    # -- what ccxt would answer -------------------------------------------------------------------------
    def fetch_open_orders(self, symbol=None, since=None, limit=None, params=None):
        if (params or {}).get("trigger"):  # the trigger (stop) book: these tests rest limit orders only
            return []
        out = [dict(o) for o in self.orders if symbol in (None, o["symbol"])]
        self.after_fetch()
        return out

    def fetch_closed_orders(self, symbol=None):
        return [dict(o) for o in self.closed if symbol in (None, o["symbol"])]

    def fetch_positions(self):
        out = [{"symbol": p["symbol"], "contracts": abs(p["signed"]), "contractSize": 1,
                "side": "long" if p["signed"] > 0 else "short", "entryPrice": p["entryPrice"],
                "markPrice": p["markPrice"]} for p in self.positions.values()]
        self.after_fetch()
        return out

    def fetch_balance(self):
        return {"USDT": {"total": self.total}}

    def create_order(self, symbol, type_, side, qty, price, params):
        cid = params["clientOrderId"]
        if self.hold is not None and self.hold[0] == cid:
            self.hold[1].set()
            assert self.hold[2].wait(10)
        if type_ == "limit":
            self.rest(symbol, side, qty, price, cid)
            return {"id": self.orders[-1]["id"], "status": "open", "filled": 0.0}
        self.trade(symbol, side, qty, 50_000.0)
        return {"id": str(next(self.ids)), "status": "closed", "filled": qty, "average": 50_000.0}

    def cancel_order(self, order_id, symbol):
        self.orders = [o for o in self.orders if o["id"] != order_id]


def live(exchange, tmp_path=None, name="bybit", account_id="acct-1"):
    journal = Journal(tmp_path / "journal.sqlite3") if tmp_path is not None else None
    ex = LiveExecutor(name, exchange, journal=journal, account_id=account_id)
    ex.last_price.update({"BTCUSDT": 50_000.0, "ETHUSDT": 2_000.0})
    return ex


def test_an_order_filling_between_the_fetches_is_still_in_play():
    exchange = ScriptedExchange()
    exchange.rest(BTC, "buy", 0.01, 50_000, "TS-entry")
    ex = live(exchange)
    ex.refresh()
    assert symbols_in_play(ex) == {"BTCUSDT"} and ex.positions() == []
    exchange.after_fetch = exchange.fill  # fills right after the refresh's first fetch, whichever that is
    ex.refresh()
    assert symbols_in_play(ex) == {"BTCUSDT"}
    ex.refresh()
    assert [p.symbol for p in ex.positions()] == ["BTCUSDT"] and ex.open_orders() == []


def test_an_older_refresh_landing_last_does_not_replace_a_newer_one():
    exchange = ScriptedExchange()
    exchange.rest(BTC, "buy", 0.01, 50_000, "TS-entry")
    ex = live(exchange)
    inside, release = threading.Event(), threading.Event()

    def hold_the_sync_thread():
        if threading.current_thread().name == "sync":
            inside.set()
            assert release.wait(10)

    exchange.after_fetch = hold_the_sync_thread
    sync = threading.Thread(target=ex.refresh, name="sync")
    sync.start()
    assert inside.wait(10)  # the background sync has read the order still open...
    exchange.fill()
    ex.refresh()  # ...then an order's own refresh (a bot's thread) sees the position
    assert [p.symbol for p in ex.positions()] == ["BTCUSDT"]
    release.set()
    sync.join(10)
    assert [p.symbol for p in ex.positions()] == ["BTCUSDT"] and ex.open_orders() == []  # not rolled back


def test_the_kill_switch_returns_at_once_while_an_entry_is_in_flight_and_then_closes_it(tmp_path):
    exchange = ScriptedExchange()
    ex = live(exchange, tmp_path)
    risk = RiskGuard(ex, ex.journal, RiskLimits(max_position_usdt=5_000))
    inside, release = threading.Event(), threading.Event()
    exchange.hold = ("entry", inside, release)
    entry = threading.Thread(target=risk.place, args=(OrderRequest("BTCUSDT", "buy", 0.01, "entry", bot="a"),))
    entry.start()
    assert inside.wait(10)  # the entry is at the exchange, its answer not back yet
    press = threading.Thread(target=risk.trip, args=("kill switch pressed by the user",))
    press.start()  # the GUI's thread
    press.join(5)
    pressed_at_once = not press.is_alive()
    release.set()
    entry.join(10)
    press.join(10)
    assert pressed_at_once and risk.kill_switch is not None
    assert risk.wait_flattened(10)
    assert exchange.positions == {} and exchange.orders == []  # the entry that slipped in is closed too


def test_the_bot_of_a_live_position_follows_our_entries_not_positions_opened_elsewhere(tmp_path):
    exchange = ScriptedExchange()
    ex = live(exchange, tmp_path)
    exchange.trade(ETH, "buy", 1.0, 2_000.0)  # opened on the exchange's web page
    ex.refresh()
    assert [(p.symbol, p.bot) for p in ex.positions()] == [("ETHUSDT", "")]
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "multi-entry", type="limit", price=49_000.0, bot="multi"))
    exchange.fill(BTC, 49_000.0)  # the resting entry fills later
    ex.refresh()
    assert {(p.symbol, p.bot) for p in ex.positions()} == {("ETHUSDT", ""), ("BTCUSDT", "multi")}
    assert symbols_in_play(ex, bot="multi") == {"BTCUSDT"}
    exchange.trade(BTC, "sell", 0.01, 50_000.0)  # closed at its take profit
    ex.refresh()
    exchange.trade(BTC, "buy", 0.02, 50_000.0)  # then one opened by hand on the same symbol
    ex.refresh()
    assert {(p.symbol, p.bot) for p in ex.positions()} == {("ETHUSDT", ""), ("BTCUSDT", "")}
    assert symbols_in_play(ex, bot="multi") == set()


@pytest.mark.parametrize("name, expected", [("bybit", 1_000.0 + 10.0), ("binance", 1_000.0), ("bingx", None)])
def test_equity_is_read_as_each_exchange_reports_its_balance(name, expected):
    exchange = ScriptedExchange(total=1_000.0)
    exchange.trade(BTC, "buy", 0.01, 49_000.0)
    exchange.positions[BTC]["markPrice"] = 50_000.0  # 10 USDT up
    ex = live(exchange, name=name)
    ex.refresh()
    assert ex.equity() == expected


def test_the_daily_loss_baseline_belongs_to_one_account(tmp_path):
    first = ScriptedExchange(total=100_000.0)
    ex = live(first, tmp_path, account_id="main")
    risk = RiskGuard(ex, ex.journal, RiskLimits(daily_loss_limit_usdt=50.0))
    ex.refresh()
    assert risk.daily_pnl() == 0.0
    first.total = 99_990.0
    ex.refresh()
    assert risk.daily_pnl() == pytest.approx(-10.0)
    other = live(ScriptedExchange(total=2_000.0), name="bybit", account_id="sub")  # another key, same day
    other.journal = ex.journal
    other_risk = RiskGuard(other, ex.journal, RiskLimits(daily_loss_limit_usdt=50.0))
    other.refresh()
    assert other_risk.daily_pnl() == 0.0  # its own baseline, not the main account's 100k
    other_risk.on_price("BTCUSDT", 50_000.0, 1)
    assert other_risk.kill_switch is None


def test_reconcile_marks_an_entry_that_filled_while_the_app_was_away_as_filled(tmp_path):
    exchange = ScriptedExchange()
    ex = live(exchange, tmp_path)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "resting", type="limit", price=49_000.0, bot="unified"))
    exchange.rest(ETH, "buy", 1.0, 1_000.0, "gone")  # ours too, cancelled at the exchange while we were away
    ex.journal.save_order(ex.name, ex._order(exchange.orders[-1]))
    exchange.cancel_order(exchange.orders[-1]["id"], ETH)
    exchange.fill(BTC, 49_000.0)  # the app is closed meanwhile
    again = LiveExecutor("bybit", exchange, journal=ex.journal, account_id="acct-1")
    again.reconcile()
    filled = ex.journal.order_by_client_id(again.name, "resting")
    assert (filled.status, filled.filled_qty, filled.avg_price) == ("filled", 0.01, 49_000.0)
    assert filled.reason == "filled while the app was away"
    assert ex.journal.order_by_client_id(again.name, "gone").status == "cancelled"
    assert [(p.symbol, p.bot) for p in again.positions()] == [("BTCUSDT", "unified")]


def test_the_kill_switch_closes_an_entry_that_filled_just_before_its_cancel(tmp_path):
    import ccxt

    class FillsAsCancelled(ScriptedExchange):
        def cancel_order(self, order_id, symbol):
            self.fill()  # filled a moment before the cancel arrived
            raise ccxt.OrderNotFound("order does not exist")

    exchange = FillsAsCancelled()
    ex = live(exchange, tmp_path)
    risk = RiskGuard(ex, ex.journal, RiskLimits(max_position_usdt=5_000))
    risk.place(OrderRequest("BTCUSDT", "buy", 0.01, "entry", type="limit", price=49_000.0, bot="a"))
    risk.trip("kill switch pressed by the user")
    assert risk.wait_flattened(10)
    assert exchange.positions == {}  # the snapshot before the cancel showed no position: read again


def test_a_market_entry_keeps_its_bot_when_an_older_refresh_lands_after_it(tmp_path):
    exchange = ScriptedExchange()
    ex = live(exchange, tmp_path)
    ex.refresh()
    inside, release, sync_done = threading.Event(), threading.Event(), threading.Event()
    fetches = []

    def interleave():
        me = threading.current_thread().name
        if me == "sync":
            fetches.append(me)
            if len(fetches) == 2:  # the sync has read positions: BTC still flat in its picture
                inside.set()
                assert release.wait(10)
        elif inside.is_set() and not release.is_set():  # the entry's own refresh: the old one installs first
            release.set()
            assert sync_done.wait(10)

    exchange.after_fetch = interleave

    def sync():
        ex.refresh()
        sync_done.set()

    t = threading.Thread(target=sync, name="sync")
    t.start()
    assert inside.wait(10)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "entry-1", bot="scanner-1"))  # market: filled at once
    t.join(10)
    exchange.after_fetch = lambda: None
    ex.refresh()
    assert [(p.symbol, p.bot) for p in ex.positions()] == [("BTCUSDT", "scanner-1")]


def test_after_a_restart_a_position_belongs_to_the_entry_that_filled_while_away(tmp_path):
    exchange = ScriptedExchange()
    ex = live(exchange, tmp_path)
    now = [1_000]
    ex.clock = lambda: now[0]
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "x-entry", bot="X"))  # X's trade, long closed
    now[0] = 2_000
    ex.place(OrderRequest("BTCUSDT", "sell", 0.01, "x-close", bot="X", reduce_only=True))
    now[0] = 3_000
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "y-entry", type="limit", price=49_000.0, bot="Y"))
    exchange.fill()  # Y's limit fills while the app is closed
    again = live(exchange, tmp_path)
    again.journal = ex.journal
    again.reconcile()
    assert [p.bot for p in again.positions()] == ["Y"]
    assert [p.bot for p in ex.journal.positions(again.name) if p.qty] == ["Y"]


def test_a_reset_before_the_accounts_first_reading_accepts_the_day_at_that_reading(tmp_path):
    from twinstar_gui.execution.risk import DAY_MS

    now = 1_700_000_000_000
    exchange = ScriptedExchange(total=700.0)  # 300 lost today, before a restart
    ex = live(exchange, tmp_path)
    ex.clock = lambda: now
    risk = RiskGuard(ex, ex.journal, RiskLimits(daily_loss_limit_usdt=200.0))
    ex.journal.set_state(risk._account_key("day_start"), {"day_ms": now - now % DAY_MS, "equity": 1_000.0})
    ex.journal.set_state(f"{risk.name}.kill_switch", {"reason": "daily loss", "time_ms": now})
    risk.reset()  # pressed before the first sync
    ex.refresh()
    risk.on_price("BTCUSDT", 50_000.0, now)
    assert risk.kill_switch is None and risk.daily_pnl() == 0.0
    exchange.total = 550.0  # 150 more lost after the reset: under the 200 limit still
    ex.refresh()
    assert risk.daily_pnl() == pytest.approx(-150.0)


def test_an_entry_cancelled_beside_another_bots_position_does_not_take_it_over(tmp_path):
    exchange = ScriptedExchange()
    ex = live(exchange, tmp_path)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "a-entry", bot="A"))  # market: A's position
    b = ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "b-entry", type="limit", price=40_000.0, bot="B"))
    ex.refresh()
    exchange.cancel_order(b.id, BTC)  # cancelled on the exchange's site: it left the book without a fill
    ex.refresh()
    assert [(p.symbol, p.bot) for p in ex.positions()] == [("BTCUSDT", "A")]
    exchange.rest(BTC, "buy", 0.01, 49_000.0, "b-again")  # B's next entry (placed before a restart, say)
    ex._bot_of_order["b-again"] = "B"
    ex.refresh()
    exchange.fill(BTC, 49_000.0)  # it fills: the position grows, B's entry made it grow
    ex.refresh()
    assert [(p.symbol, p.bot) for p in ex.positions()] == [("BTCUSDT", "B")]
