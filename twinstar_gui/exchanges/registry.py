"""The exchange registry: one entry per exchange (its adapter and the facts about it), explicit imports, one dict;
URL overrides from arguments or environment.

Adding an exchange is an adapter, a simulator module and one `Venue` here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..core.instrument import SPOT, SWAP
from .base import ExchangeAdapter
from .binance import BinanceAdapter
from .bingx import BingxAdapter
from .bitget import BitgetAdapter
from .bithumb import BithumbAdapter
from .bybit import BybitAdapter
from .okx import OkxAdapter
from .upbit import UpbitAdapter

# the base assets the AutoScanner scans by default: liquid on every venue (each resolves them through its own
# catalog: BTC -> BTC/USDT:USDT on the perpetual venues, BTC/KRW on the KRW ones; absent ones are dropped, said)
DEFAULT_SCAN_BASES = (
    "BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "TRX", "BCH", "LTC", "ETC", "NEAR", "APT",
    "ARB", "OP", "SUI", "SEI", "ATOM", "FIL", "UNI", "AAVE", "INJ", "TIA", "LDO", "ALGO", "XLM", "VET", "HBAR",
    "ICP", "SAND", "MANA", "AXS", "GALA", "EOS", "THETA", "EGLD", "FLOW", "CHZ", "CRV", "GMX", "KAVA", "ZEC",
    "STX", "IMX", "JUP", "ENA", "PEPE", "RUNE")


@dataclass(frozen=True, slots=True)
class Venue:
    """Everything the rest of the product needs to know about one exchange."""

    name: str
    adapter: type[ExchangeAdapter]
    ccxt_id: str  # ccxt's class for the market we trade (USD-M futures on Binance)
    kind: str  # SWAP / SPOT
    quote: str  # the one quote (and money) currency of its instruments here
    default_symbols: tuple[str, ...]  # unified: what a new user streams
    needs_passphrase: bool = False  # API keys come with a passphrase (OKX, Bitget)
    # what ccxt's "total" of the settle coin is here (ccxt 4.5): "wallet" (the wallet balance: open positions'
    # unrealized result is added for the equity), "equity" (the equity itself), or "" when it is neither (BingX's
    # total is what may be withdrawn; the KRW venues trade spot): then no equity is read from it
    ccxt_total: str = ""
    # ccxt (4.5) lists this venue's trigger (stop) orders apart from its other open orders: fetched, cancelled and
    # amended with params {"trigger": True} (Bybit's conditional orders, Binance's Algo service, OKX's algo orders)
    ccxt_trigger_book: bool = False
    # a position's take profit / stop loss are conditional orders of their own, read back from the trigger book
    # (Binance's closePosition algo orders; OKX's conditional / oco algo orders)
    ccxt_tpsl_orders: bool = False


_PERP: dict[str, Any] = dict(kind=SWAP, quote="USDT",
                             default_symbols=("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"))
_KRW: dict[str, Any] = dict(kind=SPOT, quote="KRW", default_symbols=("BTC/KRW", "ETH/KRW", "SOL/KRW"))

VENUES: dict[str, Venue] = {
    "bybit": Venue("bybit", BybitAdapter, "bybit", ccxt_total="wallet", ccxt_trigger_book=True, **_PERP),
    "binance": Venue("binance", BinanceAdapter, "binanceusdm", ccxt_total="equity", ccxt_trigger_book=True,
                     ccxt_tpsl_orders=True, **_PERP),
    "okx": Venue("okx", OkxAdapter, "okx", needs_passphrase=True, ccxt_total="equity", ccxt_trigger_book=True,
                 ccxt_tpsl_orders=True, **_PERP),
    "bitget": Venue("bitget", BitgetAdapter, "bitget", needs_passphrase=True, ccxt_total="equity",
                    ccxt_trigger_book=True, **_PERP),
    "bingx": Venue("bingx", BingxAdapter, "bingx", **_PERP),
    "upbit": Venue("upbit", UpbitAdapter, "upbit", **_KRW),
    "bithumb": Venue("bithumb", BithumbAdapter, "bithumb", **_KRW),
}
ADAPTERS: dict[str, type[ExchangeAdapter]] = {name: v.adapter for name, v in VENUES.items()}


def exchange_names() -> list[str]:
    return list(VENUES)


def venue(name: str) -> Venue:
    """The registry entry of `name`; ValueError naming the valid ones for anything else."""
    key = str(name).strip().lower()
    found = VENUES.get(key)
    if found is None:
        raise ValueError(f"unknown exchange {str(name)[:40]!r}; valid: {', '.join(VENUES)}")
    return found


def env_url(name: str, kind: str) -> str | None:
    """`TWINSTAR_<EXCHANGE>_<REST|WS>_URL`, or None when unset/empty."""
    value = os.environ.get(f"TWINSTAR_{name.upper()}_{kind.upper()}_URL", "").strip()
    return value or None


def get_exchange(name: str, *, rest_url: str | None = None, ws_url: str | None = None) -> ExchangeAdapter:
    """The adapter for `name`; URLs: explicit argument, else environment override, else the exchange's own."""
    v = venue(name)
    return v.adapter(rest_url=rest_url or env_url(v.name, "rest"), ws_url=ws_url or env_url(v.name, "ws"))
