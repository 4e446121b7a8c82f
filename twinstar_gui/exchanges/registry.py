"""The exchange registry: explicit imports, one dict, URL overrides from arguments or environment."""
from __future__ import annotations

import os

from .base import ExchangeAdapter
from .binance import BinanceAdapter
from .bingx import BingxAdapter
from .bitget import BitgetAdapter
from .bithumb import BithumbAdapter
from .bybit import BybitAdapter
from .okx import OkxAdapter
from .upbit import UpbitAdapter

ADAPTERS: dict[str, type[ExchangeAdapter]] = {
    "bybit": BybitAdapter,
    "binance": BinanceAdapter,
    "okx": OkxAdapter,
    "bitget": BitgetAdapter,
    "bingx": BingxAdapter,
    "upbit": UpbitAdapter,
    "bithumb": BithumbAdapter,
}


def exchange_names() -> list[str]:
    return list(ADAPTERS)


def env_url(name: str, kind: str) -> str | None:
    """`TWINSTAR_<EXCHANGE>_<REST|WS>_URL`, or None when unset/empty."""
    value = os.environ.get(f"TWINSTAR_{name.upper()}_{kind.upper()}_URL", "").strip()
    return value or None


def get_exchange(name: str, *, rest_url: str | None = None, ws_url: str | None = None) -> ExchangeAdapter:
    """The adapter for `name`; URLs: explicit argument, else environment override, else the exchange's own."""
    key = str(name).strip().lower()
    cls = ADAPTERS.get(key)
    if cls is None:
        raise ValueError(f"unknown exchange {name!r}; valid: {', '.join(ADAPTERS)}")
    return cls(rest_url=rest_url or env_url(key, "rest"), ws_url=ws_url or env_url(key, "ws"))
