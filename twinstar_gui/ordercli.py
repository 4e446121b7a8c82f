"""`twinstar order` and `twinstar orders`: place, list and cancel a trader's own orders headless, through the same
checks, risk guard, journal and executors (paper by default) as the window and the bots.

Exit codes: 0 done; 1 the order (or cancel) was refused, by us before sending or by the exchange, with the
reason; 2 the command itself is wrong (unknown exchange or symbol, bad flags, no keys).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import IO, TYPE_CHECKING

from .cliargs import add_account_flags, number

if TYPE_CHECKING:
    from .config import Settings
    from .data.catalogs import CatalogBook
    from .execution.base import Order
    from .execution.risk import RiskGuard
    from .execution.trade_journal import Journal

log = logging.getLogger("twinstar.order")
AMOUNT = number(0.0, 1e12, above=True)


class CommandError(Exception):
    """The command cannot run (exit 2); its message says why."""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--exchange", required=True, help="exchange name")
    add_account_flags(p, paper="the paper account (the default)",
                      live="the exchange account, with the API keys in the OS keyring",
                      confirm="confirm a live order (required to place live)",
                      data="data directory (the trading journal)")


def order_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twinstar order", description="Place one order by hand (paper by default). "
                                "Prints the order as accepted, or the refusal (exit 1).")
    p.add_argument("side", choices=["buy", "sell"])
    _common(p)
    p.add_argument("--symbol", required=True, help="the instrument, unified (BTC/USDT:USDT, BTC/KRW) or native")
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--qty", type=AMOUNT, help="size in base units (e.g. BTC), converted to contracts where the "
                                                 "exchange counts contracts")
    size.add_argument("--notional", type=AMOUNT, help="size as an order value in the quote currency (USDT, KRW)")
    p.add_argument("--price", type=AMOUNT, help="limit price (on the tick grid); none: a market order")
    p.add_argument("--post-only", action="store_true", help="limit only: refused rather than taking liquidity")
    p.add_argument("--reduce-only", action="store_true", help="only reduce the position, never open or grow it")
    p.add_argument("--tp", type=AMOUNT, help="take profit price attached to the position")
    p.add_argument("--sl", type=AMOUNT, help="stop loss price attached to the position")
    return p


def orders_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twinstar orders", description="List open orders (every owner: bots and "
                                "manual), one a line: id, symbol, side, type, price, size, owner; or cancel.")
    _common(p)
    p.add_argument("--symbol", help="only this instrument")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--cancel", metavar="ID", help="cancel this open order")
    what.add_argument("--cancel-all", action="store_true", help="cancel every open order (of --symbol, if given)")
    return p


# -- the commands ----------------------------------------------------------------------------------------------
def order_main(argv: list[str]) -> int:
    args = order_parser().parse_args(argv)
    from .execution.base import OrderRefused
    from .execution.manual import FieldError, ManualOrder, prepare

    try:
        if args.live and not args.confirm_live:
            raise CommandError("a live order sends real money: add --confirm-live to place it")
        session = _Session(args, "order")
    except CommandError as exc:
        return _fail("order", str(exc))
    try:
        symbol = session.native(args.symbol, checked=True)
        last = session.last_price(symbol)
        if last is None and args.price is None and session.price_problem:  # an outage, not a refusal
            raise CommandError(f"{session.exchange}: no last price for a market order ({session.price_problem}); "
                               "nothing sent")
        guard = session.guard
        rules = guard.rules(symbol)
        pos = next((p for p in guard.positions() if p.symbol == symbol), None)
        intent = ManualOrder(symbol, args.side, "limit" if args.price is not None else "market", args.qty,
                             args.notional, args.price, args.post_only, args.reduce_only, args.tp, args.sl)
        try:
            ready = prepare(intent, rules, last, pos.qty if pos else 0.0, fee_rate=session.fee_rate,
                            spot=session.spot)
        except FieldError as exc:
            print(f"refused ({_flag(exc.field)}): {exc}", file=sys.stderr)
            return 1
        try:
            order = guard.place(ready.request)
            if session.paper and last is not None:  # paper: the price the exchange shows now fills what it reaches
                guard.on_price(symbol, last, session.now())
                order = _current(guard, session.journal, order)
        except OrderRefused as exc:
            print(f"refused: {exc}" + (f" (code {exc.code})" if exc.code not in (None, "") else ""), file=sys.stderr)
            return 1
        print(_order_line(session, order, ready.currency), flush=True)
        return 0
    except CommandError as exc:
        return _fail("order", str(exc))
    finally:
        session.close()


def orders_main(argv: list[str]) -> int:
    args = orders_parser().parse_args(argv)
    from .execution.base import OrderRefused

    try:
        session = _Session(args, "orders", changes=bool(args.cancel or args.cancel_all))
    except CommandError as exc:
        return _fail("orders", str(exc))
    try:
        symbol = session.native(args.symbol) if args.symbol else None
        guard = session.guard
        try:
            if args.cancel:
                done = [guard.cancel(args.cancel)]
            elif args.cancel_all:
                done = guard.cancel_all(symbol)
            else:
                done = None
        except OrderRefused as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
        if done is not None:
            for o in done:
                print("cancelled " + _order_line(session, o, ""), flush=True)
            if not done:
                print("no open orders to cancel", flush=True)
            return 0
        for o in sorted(guard.open_orders(), key=lambda o: o.created_ms):
            if symbol is None or o.symbol == symbol:
                print(_order_line(session, o, ""), flush=True)
        return 0
    except CommandError as exc:
        return _fail("orders", str(exc))
    finally:
        session.close()


# -- what both commands need -------------------------------------------------------------------------------------
class _Session:
    """Settings, the exchange's instrument list, the journal and the executor (paper, or live) behind the risk
    guard. Raises CommandError (exit 2) with the reason."""

    def __init__(self, args: argparse.Namespace, command: str, *, changes: bool = True) -> None:
        """`changes`: the command places or cancels (a paper account traded by another process is refused)."""
        self.changes = changes
        from .collector import data_dir_setting
        from .config import SettingsError, load_settings
        from .exchanges.registry import exchange_names
        from .wiring import check_data_dir

        self.exchange = args.exchange.strip().lower()
        if self.exchange not in exchange_names():
            raise CommandError(f"unknown exchange {args.exchange!r}; valid: {', '.join(exchange_names())}")
        try:
            self.settings: Settings = data_dir_setting(load_settings(args.config), args.data)
        except SettingsError as exc:
            raise CommandError(str(exc)) from None
        problem = check_data_dir(self.settings.data_dir)
        if problem:
            raise CommandError(problem)
        self.paper = not args.live
        from .core.instrument import SPOT
        from .exchanges.registry import VENUES

        self.spot = VENUES[self.exchange].kind == SPOT  # the KRW venues: sell only what is held
        self.price_problem = ""  # why the last price could not be read (the exchange unreachable), if so
        self.journal: Journal | None = None
        self._live = None
        self._lock: IO[str] | None = None  # the paper account's claim (trading_stack.claim_paper_account)
        self.book = self._catalog()
        self.guard: RiskGuard = self._executor()
        self.fee_rate = self.settings.trading.fee_rate if self.paper else 0.0

    def _catalog(self) -> CatalogBook:
        from .data.catalogs import fetch_book

        settings = self.settings
        book = fetch_book(self.exchange, settings.rest_url(self.exchange), settings.data_dir)
        if book.error:
            log.warning("%s", book.status())
        return book

    def _executor(self) -> RiskGuard:
        from .exchanges.registry import VENUES
        from .execution.instruments import rules_of
        from .execution.paper import default_rules
        from .execution.risk import RiskGuard
        from .trading_stack import open_journal, paper_executor

        currency = VENUES[self.exchange].quote
        self.journal = open_journal(self.settings)
        if self.paper:
            from .trading_stack import PaperAccountBusy, claim_paper_account

            try:
                self._lock = claim_paper_account(self.settings, self.exchange)
            except PaperAccountBusy as exc:
                if self.changes:  # a listing reads the journal, which that process keeps up to date
                    raise CommandError(f"{exc}; place the order there (its state is in that process)") from None

            def rules(symbol: str):
                inst = self.book.catalog.get(symbol) or self.book.catalog.by_native(symbol)
                return rules_of(inst) if inst is not None else default_rules(symbol)
            inner = paper_executor(self.settings, self.exchange, self.journal, rules)
        else:
            inner = self._connect_live()
        return RiskGuard(inner, self.journal, self.settings.trading.risk, currency=currency)

    def _connect_live(self):
        from .execution.live import LiveExecutor, LiveExecutorError
        from .secrets import KeyStoreError, require_keys

        try:
            keys = require_keys(self.exchange)
        except KeyStoreError as exc:
            raise CommandError(f"{exc}; nothing sent") from None
        try:
            live = LiveExecutor.connect(self.exchange, keys, rest_url=self.settings.rest_url(self.exchange),
                                        journal=self.journal)
        except LiveExecutorError as exc:
            raise CommandError(f"live mode: {exc}") from None
        self._live = live
        try:
            live.refresh()
        except Exception as exc:  # noqa: BLE001 - the account cannot be read: nothing is sent blind
            raise CommandError(f"{self.exchange}: cannot read the account: {live.error_text(exc)}") from None
        return live

    def native(self, text: str, *, checked: bool = False) -> str:
        """What the user typed -> the exchange's id. `checked`: only from the exchange's own instrument list (an
        order needs its tick, lot and minimums): with none at hand (the exchange unreachable and nothing cached),
        CommandError saying so, never a guess."""
        from .core.instrument import SymbolError
        from .core.names import BadName, check_symbol_text

        if checked and not self.book.catalog.verified:
            raise CommandError(f"{self.book.status()}; cannot check {text.strip()[:40]!r}: nothing sent")
        try:
            return self.book.resolve(check_symbol_text(text.strip())).native
        except (SymbolError, BadName) as exc:
            raise CommandError(str(exc)) from None

    def unified(self, native: str) -> str:
        inst = self.book.catalog.by_native(native)
        return inst.symbol if inst is not None else native

    def last_price(self, symbol: str) -> float | None:
        """The exchange's last price of `symbol` now (its tickers); None if it cannot be read (a limit order
        goes on; a market order is refused for want of a price)."""
        from .exchanges.registry import get_exchange
        from .net.rest import RestClient

        rest = RestClient(get_exchange(self.exchange, rest_url=self.settings.rest_url(self.exchange)), retries=1)
        try:
            rows = rest.fetch_ticker_rows()
        except Exception as exc:  # noqa: BLE001 - said; the order decides what it can do without a price
            log.warning("%s: no last price for %s: %s", self.exchange, symbol, exc)
            self.price_problem = f"{type(exc).__name__}: {exc}"
            return None
        finally:
            rest.close()
        price = next((r.last_price for r in rows if r.symbol == symbol), None)
        if price is not None:
            self.guard.inner.last_price[symbol] = price  # type: ignore[attr-defined]
        return price

    def now(self) -> int:
        return int(time.time() * 1000)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
        if self.journal is not None:
            self.journal.close()
        if self._lock is not None:
            self._lock.close()


def _current(guard: RiskGuard, journal: Journal | None, order: Order) -> Order:
    """The order as it is after the price (filled, or still open)."""
    found = journal.order_by_client_id(guard.name, order.client_id) if journal is not None else None
    return found or order


def _order_line(session: _Session, o: Order, currency: str) -> str:
    price = o.avg_price if o.filled_qty else o.price
    fee = f" fee={o.fee:.4f}" + (f" {currency}" if currency else "") if o.fee else ""
    return (f"{o.id} {o.client_id} {session.unified(o.symbol)} {o.side} {o.type} {o.status} "
            f"price={'market' if price is None else f'{price:.12g}'} size={o.qty:.12g}"
            + (f" filled={o.filled_qty:.12g}" if o.filled_qty else "") + fee + f" owner={o.bot or 'manual'}")


def _flag(field: str) -> str:
    return {"take_profit": "--tp", "stop_loss": "--sl", "type": "--price"}.get(field, "--" + field.replace("_", "-"))


def _fail(command: str, message: str) -> int:
    print(f"twinstar {command}: {message}", file=sys.stderr)
    return 2
