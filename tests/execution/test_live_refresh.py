"""LiveExecutor's account snapshot when the exchange changes between its HTTP calls.

The interleavings (a fill landing between two fetches of one refresh; two refreshes overlapping) cannot be
placed on the simulator at will, so the ccxt client here is a scripted stand-in that fills the order at the
chosen moment. The live executor's real path through ccxt and the simulator is in test_live_executor.py.
"""
import threading

from twinstar_gui.execution.base import symbols_in_play
from twinstar_gui.execution.live import LiveExecutor

MARKET = {"id": "BTCUSDT", "symbol": "BTC/USDT:USDT", "swap": True, "precision": {"price": 0.1, "amount": 0.001},
          "limits": {}}


class ScriptedExchange:
    markets = {"BTC/USDT:USDT": MARKET}

    def __init__(self) -> None:
        self.orders = [{"id": "1", "clientOrderId": "TS-entry", "symbol": "BTC/USDT:USDT", "side": "buy",
                        "amount": 0.01, "type": "limit", "price": 50_000}]
        self.positions: list[dict] = []
        self.after_fetch = lambda: None

    def fill(self) -> None:
        if self.orders:
            self.orders.clear()
            self.positions.append({"symbol": "BTC/USDT:USDT", "contracts": 0.01, "contractSize": 1, "side": "long",
                                   "entryPrice": 50_000})

    def fetch_positions(self):
        out = [dict(p) for p in self.positions]
        self.after_fetch()
        return out

    def fetch_open_orders(self, symbol=None):
        out = [dict(o) for o in self.orders]
        self.after_fetch()
        return out

    def fetch_balance(self):
        return {"USDT": {"total": 1_000.0}}


def test_an_order_filling_between_the_fetches_is_still_in_play():
    exchange = ScriptedExchange()
    ex = LiveExecutor("bybit", exchange)
    ex.refresh()
    assert symbols_in_play(ex) == {"BTCUSDT"} and ex.positions() == []
    exchange.after_fetch = exchange.fill  # fills right after the refresh's first fetch, whichever that is
    ex.refresh()
    assert symbols_in_play(ex) == {"BTCUSDT"}
    ex.refresh()
    assert [p.symbol for p in ex.positions()] == ["BTCUSDT"] and ex.open_orders() == []


def test_an_older_refresh_landing_last_does_not_replace_a_newer_one():
    exchange = ScriptedExchange()
    ex = LiveExecutor("bybit", exchange)
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
