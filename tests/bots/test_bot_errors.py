"""A refused entry re-triggers on every price tick while a risk limit holds: the bot reports it once a minute,
not on every tick (it once flooded the log and the panel), and keeps a bounded list."""
import asyncio
import logging
from types import SimpleNamespace

import pytest

from twinstar_gui.bots import base
from twinstar_gui.bots.base import Bot, BotContext
from twinstar_gui.bots.market import ERROR_REPEAT_S
from twinstar_gui.core.instrument import SeriesKey
from twinstar_gui.core.risk_limits import RiskLimits
from twinstar_gui.core.strategy import LONG, Signal
from twinstar_gui.execution.paper import PaperExecutor
from twinstar_gui.execution.risk import RiskGuard
from twinstar_gui.execution.trade_journal import Journal
from twinstar_gui.presenters.trading import problem_text


def bare_market(exchange: str) -> SimpleNamespace:
    """A market with no feed behind it (these tests drive the bot's order path only): names read as given and
    no instrument list, so prices read by significant digits."""
    return SimpleNamespace(exchange=exchange, unified=lambda native: native, listed=lambda native: None)

def test_the_same_refusal_is_reported_once_a_minute(tmp_path, caplog, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(base.time, "monotonic", lambda: now[0])
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        executor = RiskGuard(PaperExecutor(journal), journal, RiskLimits(max_position_usdt=50.0))  # 100 > 50
        # the market is only asked for its exchange's name here: a stand-in, the executor and journal are real
        bot = Bot("scanner", BotContext(bare_market("bybit"), executor, journal, order_notional=100.0))
        signal = Signal("BTCUSDT", LONG, 100.0, 102.0, 99.0, 45.0, 0, "test")
        caplog.set_level(logging.ERROR)
        for tick in range(50):  # fifty price ticks inside one minute
            now[0] += 0.5
            assert bot.enter(signal, tick) is None
        refusals = [r for r in caplog.records if "entry refused" in r.getMessage()]
        assert len(refusals) == 1 and "BTCUSDT" in refusals[0].getMessage()
        assert len(bot.snapshot().errors) == 1
        now[0] += ERROR_REPEAT_S  # a minute later the limit still holds: said again
        bot.enter(signal, "later")
        assert len([r for r in caplog.records if "entry refused" in r.getMessage()]) == 2
        for i in range(300):  # many different messages: the kept list stays bounded
            bot._error(f"problem {i}")
        assert len(bot.status.errors) <= 50 and len(bot._errors_seen) <= 200
    finally:
        journal.close()


def test_a_journal_that_cannot_record_fills_is_reported_once_a_minute_and_the_fill_waits(tmp_path, caplog,
                                                                                          monkeypatch):
    """Paper fills happen on prices, many a second: while the journal's disk fails, the market logs the error
    once a minute (not per price) and the order stays open; once the disk is back the next price fills it."""
    from twinstar_gui.bots.market import LiveMarket
    from twinstar_gui.core.models import Candle
    from twinstar_gui.execution.base import OrderRequest

    now = [1000.0]
    monkeypatch.setattr(base.time, "monotonic", lambda: now[0])
    journal = Journal(tmp_path / "journal.sqlite3")
    paper = PaperExecutor(journal)
    # the feed is only asked for its exchange's name here: a stand-in; executor and journal are real
    market = LiveMarket(SimpleNamespace(adapter=SimpleNamespace(name="bybit")), None, paper, clock=lambda: 7)
    try:
        market._on_forming(SeriesKey("bybit", "BTCUSDT", "15m"), Candle(0, 100.0, 100.0, 100.0, 100.0, 1.0))
        paper.place(OrderRequest("BTCUSDT", "buy", 0.5, "c1", bot="t"))

        def disk_full(*_args):
            raise OSError(28, "No space left on device")

        journal.add_fill = disk_full
        caplog.set_level(logging.ERROR)
        for i in range(50):
            now[0] += 0.2
            market._on_forming(SeriesKey("bybit", "BTCUSDT", "15m"),
                               Candle(0, 100.0, 101.0, 99.0, 100.0 + i / 100, 1.0))
        errors = [r for r in caplog.records if "executor failed on a price" in r.getMessage()]
        assert len(errors) == 1 and "No space left" in errors[0].getMessage() and "BTCUSDT" in errors[0].getMessage()
        assert [o.client_id for o in paper.open_orders()] == ["c1"] and paper.positions() == []
        paper.place(OrderRequest("ETHUSDT", "buy", 1.0, "c2", bot="t", price=100.0))  # needs no price yet
        # another symbol: said too
        market._on_forming(SeriesKey("bybit", "ETHUSDT", "15m"), Candle(0, 100.0, 100.0, 100.0, 100.0, 1.0))
        now[0] += ERROR_REPEAT_S
        # a minute on: with the count
        market._on_forming(SeriesKey("bybit", "BTCUSDT", "15m"), Candle(0, 100.0, 101.0, 99.0, 100.0, 1.0))
        lines = [r.getMessage() for r in caplog.records if "executor failed on a price" in r.getMessage()]
        assert len(lines) == 3 and "ETHUSDT" in lines[1] and "49 more time(s) in the last minute" in lines[2]
        problems = market.executor_problems()  # what the account line shows while it lasts
        assert sorted(problems) == ["BTCUSDT", "ETHUSDT"] and "No space left" in problems["BTCUSDT"]
        assert problem_text(problems).startswith("fills and TP/SL held back, retried on every price: BTCUSDT: ")
        assert problem_text(problems).endswith("No space left on device (and 1 more symbol(s))")
        del journal.add_fill
        market._on_forming(SeriesKey("bybit", "BTCUSDT", "15m"), Candle(0, 100.0, 101.0, 99.0, 100.5, 1.0))
        assert [o.client_id for o in paper.open_orders()] == ["c2"]  # ETH's waits for an ETH price
        assert [f.client_id for f in journal.fills("paper")] == ["c1"]
        assert list(market.executor_problems()) == ["ETHUSDT"]  # BTC's price went through
        market._on_forming(SeriesKey("bybit", "ETHUSDT", "15m"), Candle(0, 100.0, 100.0, 100.0, 100.0, 1.0))
        assert market.executor_problems() == {} and problem_text({}) == ""
        paper.place(OrderRequest("SOLUSDT", "buy", 1.0, "c3", bot="t", price=100.0))
        journal.add_fill = disk_full
        market._on_forming(SeriesKey("bybit", "SOLUSDT", "15m"), Candle(0, 100.0, 100.0, 100.0, 100.0, 1.0))
        assert list(market.executor_problems()) == ["SOLUSDT"]
        paper.cancel(paper.open_orders()[0].id)  # nothing of SOL left to fill: the tracker drops the report
        market._tracked = {"BTCUSDT", "ETHUSDT"}  # the positions' streams are up (the stand-in feed has none)
        monkeypatch.undo()  # the event loop needs a clock that moves
        with pytest.raises(TimeoutError):
            asyncio.run(asyncio.wait_for(market._track_positions(), 0.3))  # one pass, then its 0.5 s sleep
        assert market.executor_problems() == {}
    finally:
        journal.close()


def test_no_entry_once_stopping_nor_from_an_order_that_ended_without_a_trade(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        paper = PaperExecutor(journal)
        paper.on_price("BTCUSDT", 100.0, 1)
        # the market is only asked for its exchange's name here: a stand-in, the executor and journal are real
        bot = Bot("multi", BotContext(bare_market("bybit"), paper, journal, order_notional=100.0))
        signal = Signal("BTCUSDT", LONG, 100.0, 102.0, 99.0, 45.0, 0, "test")
        order = bot.enter(signal, "first")
        paper.cancel(order.id)  # e.g. by the kill switch before it filled
        assert bot.enter(signal, "first") is None  # the same intent again: that order is over, no entry
        assert bot.snapshot().entries == 1 and "was cancelled" in bot.snapshot().errors[-1]
        bot.request_stop("stopped")  # Stop pressed while a scan was still running
        assert bot.enter(signal, "second") is None and len(journal.orders("paper")) == 1
    finally:
        journal.close()


def test_a_bot_winding_down_after_the_market_closed_does_not_wait_on_the_loop():
    """A bot stuck in a REST call when the app stops ends after the market is closed: its shutdown's unwatch
    must not wait (up to 30 s) on an event loop that is about to stop, and nothing new is started."""
    import queue

    from twinstar_gui.bots.market import LiveMarket

    loop = asyncio.new_event_loop()  # not running: a call into it would wait for the timeout
    market = LiveMarket(SimpleNamespace(adapter=SimpleNamespace(name="bybit")), loop, None)
    try:
        loop.run_until_complete(market.close())
        market.unwatch("BTCUSDT", queue.Queue())  # returns at once
        with pytest.raises(RuntimeError, match="bybit: the market is closed"):
            market.watch("BTCUSDT", queue.Queue())
    finally:
        loop.close()


@pytest.mark.parametrize("failure, survives", [
    (lambda: base.BadMessage("bybit", "/v5/market/tickers: response is not JSON", "<html>Just a moment</html>"), True),
    (lambda: base.ExchangeError("bybit", "Too many visits!", code=10006), True),
    (lambda: base.TransportError("bybit", "connection refused"), True),
    (lambda: KeyError("a bug"), False),
])
def test_a_failing_exchange_is_told_and_the_bot_goes_on_a_bug_stops_it(tmp_path, failure, survives):
    class Flaky(Bot):
        kind = "flaky"
        ticks = 0

        def on_timer(self, now):
            self.ticks += 1
            if self.ticks == 1:
                raise failure()
            if self.ticks >= 3:
                self.request_stop("done")

    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        # the market is only asked for its exchange's name here: a stand-in; executor and journal are real
        bot = Flaky("flaky", BotContext(bare_market("bybit"), PaperExecutor(journal), journal))
        base.run_bot(bot, tick=0.0)
        status = bot.snapshot()
        if survives:
            assert bot.ticks == 3 and status.state == "stopped" and "trying again on the next scan" in status.errors[0]
        else:
            assert bot.ticks == 1 and status.state == "failed" and "KeyError" in status.errors[-1]
    finally:
        journal.close()
