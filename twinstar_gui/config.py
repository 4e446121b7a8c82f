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

from .core.atomic import write_text_atomic
from .core.strategy import StrategyConfig
from .core.timeframe import CHART_TIMEFRAMES, Timeframe
from .exchanges.registry import env_url, exchange_names
from .execution.risk import RiskLimits

log = logging.getLogger(__name__)

APP_NAME = "twinstar"
DEFAULT_SYMBOLS = {"bybit": ("BTCUSDT", "ETHUSDT", "SOLUSDT"), "binance": ("BTCUSDT", "ETHUSDT"),
                   "okx": ("BTC-USDT-SWAP", "ETH-USDT-SWAP"), "bitget": ("BTCUSDT", "ETHUSDT"),
                   "bingx": ("BTC-USDT", "ETH-USDT"), "upbit": ("KRW-BTC", "KRW-ETH"), "bithumb": ("BTC_KRW", "ETH_KRW")}
DEFAULT_ENABLED = ("bybit",)  # the others are one switch away in the settings file


# AutoScanner's stage-1 presets (Bybit linear names; 50 liquid USDT perpetuals)
SCANNER_PRESETS = (
    "BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT", "BNBUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT", "LTCUSDT",
    "1000PEPEUSDT", "DOTUSDT", "TRXUSDT", "MATICUSDT", "ATOMUSDT", "NEARUSDT", "APTUSDT", "ARBUSDT", "OPUSDT",
    "FILUSDT", "ETCUSDT", "BCHUSDT", "UNIUSDT", "AAVEUSDT", "INJUSDT", "SUIUSDT", "SEIUSDT", "TIAUSDT", "WIFUSDT",
    "LDOUSDT", "RNDRUSDT", "FTMUSDT", "ALGOUSDT", "XLMUSDT", "VETUSDT", "HBARUSDT", "ICPUSDT", "SANDUSDT", "MANAUSDT",
    "AXSUSDT", "GALAUSDT", "EOSUSDT", "THETAUSDT", "EGLDUSDT", "FLOWUSDT", "CHZUSDT", "CRVUSDT", "DYDXUSDT",
    "GMXUSDT", "KAVAUSDT")


@dataclass(frozen=True, slots=True)
class TradingSettings:
    """Bots, paper executor and risk limits (keys never here: they live in the OS keyring)."""

    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    risk: RiskLimits = field(default_factory=RiskLimits)
    paper_balance: float = 10_000.0
    fee_rate: float = 0.00055  # taker fee, fraction
    slippage_bps: float = 2.0
    order_usdt: float = 100.0  # notional per entry
    scanner_symbols: tuple[str, ...] = SCANNER_PRESETS
    scanner_watch: int = 8  # stage 2: watch the best 5-10
    scanner_rescan_s: float = 900.0
    multi_top_n: int = 50
    multi_scan_s: float = 30.0
    multi_rsi_timeframe: str = "15m"  # the seed's MultiTrader reads its RSI pattern on 15m candles

    def multi_strategy(self) -> StrategyConfig:
        from dataclasses import replace

        return replace(self.strategy, rsi_timeframe=Timeframe.parse(self.multi_rsi_timeframe))


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
    trading: TradingSettings = field(default_factory=TradingSettings)
    timeframes: tuple[str, ...] = tuple(tf.label for tf in CHART_TIMEFRAMES)  # offered in the chart's picker

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
    return Settings(Path(data_dir).expanduser(), MappingProxyType(exchanges), source_path=source,
                    trading=trading_from_dict(raw.get("trading", {})), timeframes=_timeframes(raw),
                    **windows)


def _timeframes(raw: Mapping[str, Any]) -> tuple[str, ...]:
    value = raw.get("timeframes", [tf.label for tf in CHART_TIMEFRAMES])
    valid = [tf.label for tf in CHART_TIMEFRAMES]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"timeframes: expected a non-empty list of {', '.join(valid)}, got {value!r}")
    wanted = {v.strip().lower() for v in value}
    unknown = sorted(wanted - set(valid))
    if unknown:
        raise SettingsError(f"timeframes: unknown {', '.join(unknown)}; valid: {', '.join(valid)}")
    return tuple(v for v in valid if v in wanted)  # the product's order, whatever the file's


def _section(raw: Any, name: str, cls: type, convert: dict[str, Any] | None = None) -> Any:
    if not isinstance(raw, dict):
        raise SettingsError(f"{name}: expected an object")
    known = {f for f in cls.__dataclass_fields__}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(f"{name}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    values = dict(raw)
    try:
        for key, fn in (convert or {}).items():
            if key in values:
                values[key] = fn(values[key])
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{name}: {exc}") from None


def _number(name: str, low: float, high: float) -> Any:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
            raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {v!r}")
        return float(v)
    return check


def trading_from_dict(raw: Any) -> TradingSettings:
    """The `trading` section: {"strategy": {...}, "risk": {...}, "order_usdt": 100, ...}."""
    if not isinstance(raw, dict):
        raise SettingsError("trading: expected an object")
    raw = dict(raw)
    strategy = _section(raw.pop("strategy", {}), "trading.strategy", StrategyConfig,
                        {"rsi_timeframe": Timeframe.parse})
    risk = _section(raw.pop("risk", {}), "trading.risk", RiskLimits)
    checks = {"paper_balance": _number("paper_balance", 1, 1e12), "fee_rate": _number("fee_rate", 0, 0.01),
              "slippage_bps": _number("slippage_bps", 0, 500), "order_usdt": _number("order_usdt", 1, 1e9),
              "scanner_rescan_s": _number("scanner_rescan_s", 10, 86_400),
              "multi_scan_s": _number("multi_scan_s", 1, 86_400)}
    for key in ("scanner_watch", "multi_top_n"):
        checks[key] = _integer(key, 1, 50 if key == "scanner_watch" else 500)
    checks["scanner_symbols"] = _symbols
    checks["multi_rsi_timeframe"] = lambda v: Timeframe.parse(v).label
    out = _section(raw, "trading", TradingSettings, checks)
    out = TradingSettings(strategy, risk, **{k: getattr(out, k) for k in TradingSettings.__dataclass_fields__
                                             if k not in ("strategy", "risk")})
    if not 5 <= out.scanner_watch <= 10:
        log.info("trading.scanner_watch=%d (the seed watched 5-10)", out.scanner_watch)
    return out


def _integer(name: str, low: int, high: int) -> Any:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise ValueError(f"{name} must be an integer in [{low}, {high}], got {v!r}")
        return v
    return check


def _symbols(v: Any) -> tuple[str, ...]:
    if not isinstance(v, (list, tuple)) or not v or not all(isinstance(x, str) and x.strip() for x in v):
        raise ValueError(f"scanner_symbols must be a non-empty list of symbol names, got {v!r}")
    return tuple(dict.fromkeys(x.strip().upper() for x in v))


# -- writing the file (the settings dialog) --------------------------------------------------------------
def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """The JSON form that `settings_from_dict` reads back to an equal Settings (keys are never part of it).
    data_dir is left out when it is the default, so the file keeps following the platform's data dir."""
    t = settings.trading
    out: dict[str, Any] = {}
    if settings.data_dir != default_data_dir():
        out["data_dir"] = str(settings.data_dir)
    out["exchanges"] = {name: {"enabled": ex.enabled, "rest_url": ex.rest_url, "ws_url": ex.ws_url,
                               "symbols": list(ex.symbols)} for name, ex in settings.exchanges.items()}
    out["window_15m"], out["window_1h"] = settings.window_15m, settings.window_1h
    out["timeframes"] = list(settings.timeframes)
    strategy = {k: getattr(t.strategy, k) for k in StrategyConfig.__dataclass_fields__}
    strategy["rsi_timeframe"] = t.strategy.rsi_timeframe.label
    trading: dict[str, Any] = {"strategy": strategy,
                               "risk": {k: getattr(t.risk, k) for k in RiskLimits.__dataclass_fields__}}
    for k in TradingSettings.__dataclass_fields__:
        if k not in ("strategy", "risk"):
            value = getattr(t, k)
            trading[k] = list(value) if isinstance(value, tuple) else value
    out["trading"] = trading
    return out


def save_settings(settings: Settings, path: str | os.PathLike | None = None) -> Path:
    """Write the settings file atomically (temp file in the same dir + os.replace): a crash leaves the old
    file or the new one, never half of one. Returns the path written."""
    p = Path(path) if path is not None else default_config_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(settings_to_dict(settings), indent=2, ensure_ascii=False) + "\n"
    try:
        write_text_atomic(p, text)
    except OSError as exc:
        raise SettingsError(f"settings file {p}: cannot write ({exc.strerror or exc})") from None
    log.info("settings saved to %s", p)
    return p
