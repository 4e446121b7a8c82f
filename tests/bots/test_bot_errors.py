"""A refused entry re-triggers on every price tick while a risk limit holds: the bot reports it once a minute,
not on every tick (it once flooded the log and the panel), and keeps a bounded list."""
import logging
from types import SimpleNamespace

from twinstar_gui.bots import base
from twinstar_gui.bots.base import Bot, BotContext
from twinstar_gui.core.strategy import LONG, Signal
from twinstar_gui.execution.journal import Journal
from twinstar_gui.execution.paper import PaperExecutor
from twinstar_gui.execution.risk import RiskGuard, RiskLimits


def test_the_same_refusal_is_reported_once_a_minute(tmp_path, caplog, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(base.time, "monotonic", lambda: now[0])
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        executor = RiskGuard(PaperExecutor(journal), journal, RiskLimits(max_position_usdt=50.0))  # 100 > 50
        # the market is only asked for its exchange's name here: a stand-in, the executor and journal are real
        bot = Bot("scanner", BotContext(SimpleNamespace(exchange="bybit"), executor, journal, order_usdt=100.0))
        signal = Signal("BTCUSDT", LONG, 100.0, 102.0, 99.0, 45.0, 0, "test")
        caplog.set_level(logging.ERROR)
        for tick in range(50):  # fifty price ticks inside one minute
            now[0] += 0.5
            assert bot.enter(signal, tick) is None
        refusals = [r for r in caplog.records if "entry refused" in r.getMessage()]
        assert len(refusals) == 1 and "BTCUSDT" in refusals[0].getMessage()
        assert len(bot.snapshot().errors) == 1
        now[0] += base.ERROR_REPEAT_S  # a minute later the limit still holds: said again
        bot.enter(signal, "later")
        assert len([r for r in caplog.records if "entry refused" in r.getMessage()]) == 2
        for i in range(300):  # many different messages: the kept list stays bounded
            bot._error(f"problem {i}")
        assert len(bot.status.errors) <= 50 and len(bot._errors_seen) <= 200
    finally:
        journal.close()
