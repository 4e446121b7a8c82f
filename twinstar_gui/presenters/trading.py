"""Trading presenter: bots (each in a QThread worker), positions, scanner candidates, kill switch.

Polls the executors and bots a few times a second (positions' PnL at <= 10 Hz) and turns user intents
(start/stop a bot, close a position, kill switch) into calls on the domain. The GUI never waits on a bot.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from ..bots.base import run_bot
from ..execution.base import BUY, SELL, OrderRefused, OrderRequest

log = logging.getLogger(__name__)
POLL_MS = 250
FLOWS = {"UnifiedBot": "unified", "AutoScanner": "scanner", "MultiTrader": "multi"}


class BotWorker(QThread):
    """A bot's thread in the GUI: the same loop as headless (`run_bot`), in a QThread."""

    def __init__(self, bot) -> None:
        super().__init__()
        self.bot = bot
        self.setObjectName(f"bot-{bot.name}")

    def run(self) -> None:
        run_bot(self.bot)

    def stop(self, timeout: float = 5.0) -> None:
        self.bot.request_stop()
        self.wait(int(timeout * 1000))


@dataclass(frozen=True)
class AccountView:
    exchange: str
    executor: str
    balance: float
    equity: float
    daily_pnl: float
    kill_switch: str  # "" when off


class TradingPresenter(QObject):
    bots = Signal(object)  # list[BotStatus]
    positions = Signal(object)  # list[(exchange, Position)]
    accounts = Signal(object)  # list[AccountView]
    candidates = Signal(object)  # list[Candidate]
    history = Signal(object)  # list[(exchange, Fill)] newest first
    message = Signal(str)  # something the user must read (refusals, errors)

    def __init__(self, settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.tradings: dict = {}
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def attach(self, tradings: dict) -> None:
        self.tradings = tradings
        self.poll()

    def exchanges(self) -> list[str]:
        return list(self.tradings)

    # -- intents ------------------------------------------------------------------------------------------
    def start_bot(self, flow: str, exchange: str, symbols: list[str] | None) -> str | None:
        """Start one of the flows ("UnifiedBot", "AutoScanner", "MultiTrader"); None + a message if refused."""
        from ..bots.factory import make_bot

        trading = self.tradings.get(exchange)
        if trading is None:
            self.message.emit(f"{exchange}: not connected; enable it in the settings")
            return None
        kind = FLOWS.get(flow, flow)
        taken = {b.name for t in self.tradings.values() for b in t.bots if b.snapshot().state in ("starting", "running")}
        try:
            bot = make_bot(kind, trading, self.settings.trading, symbols or None)
        except ValueError as exc:
            self.message.emit(f"{flow}: {exc}")
            return None
        if bot.name in taken:
            self.message.emit(f"{bot.name} is already running")
            return None
        trading.start_bot(bot, runner=BotWorker)
        log.info("started %s on %s (paper)", bot.name, exchange)
        return bot.name

    def stop_bot(self, name: str) -> None:
        for trading in self.tradings.values():
            if trading.bot(name) is not None:
                asyncio.ensure_future(trading.stop_bot(name))

    def close_position(self, exchange: str, symbol: str) -> None:
        trading = self.tradings.get(exchange)
        pos = next((p for p in trading.executor.positions() if p.symbol == symbol), None) if trading else None
        if pos is None:
            self.message.emit(f"{exchange} {symbol}: no open position")
            return
        req = OrderRequest(symbol, SELL if pos.qty > 0 else BUY, abs(pos.qty), f"manual-close-{symbol}-{pos.opened_ms}",
                           reduce_only=True, bot="manual", price=pos.mark_price or pos.entry_price)
        try:
            trading.executor.place(req)
        except OrderRefused as exc:
            self.message.emit(str(exc))

    def kill_switch(self) -> None:
        for trading in self.tradings.values():
            trading.executor.trip("kill switch pressed by the user")

    def reset_kill_switch(self) -> None:
        for trading in self.tradings.values():
            trading.executor.reset()

    # -- polling ------------------------------------------------------------------------------------------
    def poll(self) -> None:
        bots, positions, accounts, candidates = [], [], [], []
        for name, t in self.tradings.items():
            ex = t.executor
            for bot in t.bots:
                snap = bot.snapshot()
                bots.append(snap)
                candidates += snap.candidates
            for p in ex.positions():
                positions.append((name, p))
            ks = ex.kill_switch
            accounts.append(AccountView(name, ex.name, ex.balance(), ex.balance() + sum(
                p.unrealized_pnl for p in ex.positions()), ex.daily_pnl(), ks["reason"] if ks else ""))
        self.bots.emit(bots)
        self.positions.emit(positions)
        self.accounts.emit(accounts)
        self.candidates.emit(candidates)

    def fills(self, limit: int = 200) -> list:
        out = []
        for name, t in self.tradings.items():
            out += [(name, f) for f in t.journal.fills(t.executor.name, limit=limit)]
        return sorted(out, key=lambda x: -x[1].time_ms)[:limit]
