"""Typed, frozen settings: a JSON file in the user config dir, overridden by TWINSTAR_* environment variables.

Secrets (API keys) never live here; they go to the OS keyring.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import platformdirs

from .exchanges.registry import env_url, exchange_names

log = logging.getLogger(__name__)

APP_NAME = "twinstar"
DEFAULT_SYMBOLS = {"bybit": ("BTCUSDT", "ETHUSDT", "SOLUSDT"), "binance": ("BTCUSDT", "ETHUSDT"),
                   "okx": ("BTC-USDT-SWAP", "ETH-USDT-SWAP"), "bitget": ("BTCUSDT", "ETHUSDT"),
                   "bingx": ("BTC-USDT", "ETH-USDT"), "upbit": ("KRW-BTC", "KRW-ETH"), "bithumb": ("BTC_KRW", "ETH_KRW")}
DEFAULT_ENABLED = ("bybit",)  # the others are one switch away in the settings file


class SettingsError(ValueError):
    """A settings value is invalid; the message names the field and the value."""


@dataclass(frozen=True, slots=True)
class ExchangeSettings:
    enabled: bool = True
    rest_url: str | None = None
    ws_url: str | None = None
    symbols: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    exchanges: Mapping[str, ExchangeSettings] = field(default_factory=lambda: MappingProxyType({}))
    window_15m: int = 1000
    window_1h: int = 300
    source_path: Path | None = None

    def rest_url(self, exchange: str) -> str | None:
        """Environment beats the settings file; None means the exchange's own URL."""
        ex = self.exchanges.get(exchange)
        return env_url(exchange, "rest") or (ex.rest_url if ex else None)

    def ws_url(self, exchange: str) -> str | None:
        ex = self.exchanges.get(exchange)
        return env_url(exchange, "ws") or (ex.ws_url if ex else None)

    def symbols(self, exchange: str) -> tuple[str, ...]:
        ex = self.exchanges.get(exchange)
        return ex.symbols if ex else ()


def default_config_path() -> Path:
    override = os.environ.get("TWINSTAR_CONFIG", "").strip()
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME)) / "settings.json"


def default_data_dir() -> Path:
    override = os.environ.get("TWINSTAR_DATA_DIR", "").strip()
    return Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME)) / "candles"


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Read the settings file (missing file = defaults); raise SettingsError naming a bad field."""
    p = Path(path) if path is not None else default_config_path()
    raw: dict[str, Any] = {}
    if p.exists():
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SettingsError(f"settings file {p}: cannot read ({exc})") from None
        if not isinstance(raw, dict):
            raise SettingsError(f"settings file {p}: expected a JSON object")
    return settings_from_dict(raw, source=p if p.exists() else None)


def settings_from_dict(raw: Mapping[str, Any], source: Path | None = None) -> Settings:
    data_dir = os.environ.get("TWINSTAR_DATA_DIR", "").strip() or raw.get("data_dir") or default_data_dir()
    exchanges: dict[str, ExchangeSettings] = {}
    raw_ex = raw.get("exchanges", {})
    if not isinstance(raw_ex, dict):
        raise SettingsError("exchanges: expected an object of exchange name -> settings")
    for name in raw_ex:
        if name not in exchange_names():
            raise SettingsError(f"exchanges.{name}: unknown exchange; valid: {', '.join(exchange_names())}")
    for name in exchange_names():
        cfg = raw_ex.get(name, {})
        if not isinstance(cfg, dict):
            raise SettingsError(f"exchanges.{name}: expected an object")
        symbols = cfg.get("symbols", DEFAULT_SYMBOLS.get(name, ()))
        if not isinstance(symbols, (list, tuple)) or not all(isinstance(s, str) and s.strip() for s in symbols):
            raise SettingsError(f"exchanges.{name}.symbols: expected a list of symbol names, got {symbols!r}")
        for key in ("rest_url", "ws_url"):
            url = cfg.get(key)
            if url is not None and not (isinstance(url, str) and url.split("://", 1)[0] in ("http", "https", "ws", "wss")):
                raise SettingsError(f"exchanges.{name}.{key}: not a http(s)/ws(s) URL: {url!r}")
        exchanges[name] = ExchangeSettings(bool(cfg.get("enabled", name in DEFAULT_ENABLED)), cfg.get("rest_url"),
                                           cfg.get("ws_url"),
                                           tuple(s.strip().upper() for s in symbols))
    windows = {}
    for key, default, low in (("window_15m", 1000, 100), ("window_1h", 300, 50)):
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 1_000_000:
            raise SettingsError(f"{key}: expected an integer between {low} and 1000000, got {value!r}")
        windows[key] = value
    return Settings(Path(data_dir).expanduser(), MappingProxyType(exchanges), source_path=source, **windows)
