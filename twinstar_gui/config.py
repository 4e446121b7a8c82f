"""Typed, frozen settings: a JSON file in the user config dir, overridden by TWINSTAR_* environment variables.

The file's schema is declared once, below (`Field`s grouped in `Section`s); `settings_from_dict` reads a file
with it and the settings dialog builds and checks its inputs with it. Unknown keys are refused naming the closest
valid one, booleans must be booleans, numbers finite and in range, texts and lists bounded.
Secrets (API keys) never live here; they go to the OS keyring.
"""
from __future__ import annotations

import difflib
import json
import logging
import math
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from .core.errors import excerpt
from .core.names import BadName, check_symbol_text
from .core.risk_limits import RiskLimits
from .core.strategy import StrategyConfig
from .core.timeframe import CHART_TIMEFRAMES, Timeframe
from .exchanges.registry import DEFAULT_SCAN_BASES, VENUES, env_url, exchange_names
from .files import write_text_atomic

log = logging.getLogger(__name__)

APP_NAME = "twinstar"
# what a new user streams on each exchange (unified symbols; the registry says per venue)
DEFAULT_SYMBOLS = {name: VENUES[name].default_symbols for name in VENUES}
PASSPHRASE_EXCHANGES = frozenset(name for name, v in VENUES.items() if v.needs_passphrase)  # API keys + passphrase
DEFAULT_ENABLED = ("bybit",)  # the others are one switch away in the settings file
MAX_FILE_BYTES = 1_000_000  # a settings file is a few KB; anything this big is not one
MAX_TEXT_CHARS = 2048  # URLs and paths
MAX_SYMBOLS = 500  # per list


# AutoScanner's stage-1 presets: base assets, resolved at each scan through the exchange's own catalog (BTC ->
# BTC/USDT:USDT on the perpetual venues, BTC/KRW on the KRW ones); those not listed there are dropped, said
SCANNER_PRESETS = DEFAULT_SCAN_BASES


class SettingsError(ValueError):
    """A settings value is invalid; the message names the field and the value."""


# -- the schema -------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Field:
    """One setting: its key, what kind of value it takes, its bounds, and the dialog's label for it.

    kinds: bool, int, float, text (a short word), url (http/https/ws/wss or none), path, symbols (a list of
    symbol names), timeframe (e.g. 4h), timeframes (a non-empty list of the chart's timeframes)."""

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    label: str = ""
    above: bool = False  # the low bound itself is not allowed (a positive amount)

    def parse(self, value: Any, where: str) -> Any:
        """The value as the settings hold it, or SettingsError naming `where` (e.g. trading.risk.max_open_positions)."""
        try:
            return _PARSERS[self.kind](self, value)
        except (ValueError, TypeError, OverflowError) as exc:  # OverflowError: an integer of hundreds of digits
            raise SettingsError(f"{where}: {exc}") from None

    def bounds(self) -> str:
        return f"{'>' if self.above else '>='} {self.low:g} and <= {self.high:g}"

    def in_bounds(self, v: float) -> bool:
        if self.low is None or self.high is None:
            raise TypeError(f"{self.key}: a number setting without bounds")
        return (self.low < v if self.above else self.low <= v) and v <= self.high


@dataclass(frozen=True, slots=True)
class Section:
    name: str  # dotted path in the file ("" = top level)
    fields: tuple[Field, ...]

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)

    def check_keys(self, raw: Mapping[str, Any], extra: tuple[str, ...] = ()) -> None:
        """Every key of `raw` must be one of ours (or in `extra`: nested sections)."""
        valid = sorted({f.key for f in self.fields} | set(extra))
        for key in raw:
            if key not in valid:
                raise SettingsError(unknown_key(key, valid, self.name))


def unknown_key(key: object, valid: list[str], section: str = "") -> str:
    where = f"{section}.{key}" if section else str(key)
    guess = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    return f"{excerpt(where, 80)}: unknown key{hint} (valid: {', '.join(valid)})"


def _bool(f: Field, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {excerpt(repr(v), 40)}")
    return v


def _int(f: Field, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not f.in_bounds(v):
        raise ValueError(f"expected an integer {f.bounds()}, got {excerpt(repr(v), 40)}")
    return v


def _float(f: Field, v: Any) -> float:
    ok = not isinstance(v, bool) and isinstance(v, (int, float))
    if ok and isinstance(v, int):
        ok = abs(v) <= 10 ** 15  # an integer past any bound (math.isfinite would overflow on 400 digits)
    if not ok or not math.isfinite(v) or not f.in_bounds(v):
        raise ValueError(f"expected a number {f.bounds()}, got {excerpt(repr(v), 40)}")
    return float(v)


def _text(f: Field, v: Any) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > 64:
        raise ValueError(f"expected a short text, got {excerpt(repr(v), 40)}")
    return v.strip()


def _url(f: Field, v: Any) -> str | None:
    if v is None or v == "":
        return None
    if not isinstance(v, str) or len(v) > MAX_TEXT_CHARS or not v.isprintable():  # no NUL, no control chars
        raise ValueError(f"not a http(s)/ws(s) URL: {excerpt(repr(v), 60)}")
    try:
        parts = urlsplit(v.strip())
        ok = parts.scheme in ("http", "https", "ws", "wss") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"not a http(s)/ws(s) URL: {excerpt(repr(v), 60)}")
    return v.strip()


def _path(f: Field, v: Any) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip() or len(v) > MAX_TEXT_CHARS or "\x00" in v:
        raise ValueError(f"expected a folder path, got {excerpt(repr(v), 60)}")
    return v


def _symbols(f: Field, v: Any) -> tuple[str, ...]:
    if not isinstance(v, (list, tuple)) or (f.low and not v):
        raise ValueError(f"expected a {'non-empty ' if f.low else ''}list of symbol names, got {excerpt(repr(v), 60)}")
    if len(v) > MAX_SYMBOLS:
        raise ValueError(f"at most {MAX_SYMBOLS} symbols, got {len(v)}")
    out = []
    for s in v:
        try:  # checked as typed, then upper-cased: 'ſOLUSDT'.upper() would turn a look-alike into SOLUSDT
            out.append(check_symbol_text(s.strip() if isinstance(s, str) else s).upper())
        except BadName as exc:
            raise ValueError(str(exc)) from None
    return tuple(dict.fromkeys(out))


def _timeframe(f: Field, v: Any) -> str:
    if not isinstance(v, str) or len(v) > 8:
        raise ValueError(f"expected a timeframe such as 15m, 1h, 4h, 1d, got {excerpt(repr(v), 40)}")
    return Timeframe.parse(v).label


def _timeframes(f: Field, v: Any) -> tuple[str, ...]:
    valid = [tf.label for tf in CHART_TIMEFRAMES]
    if not isinstance(v, (list, tuple)) or not v or len(v) > 20 or not all(isinstance(x, str) for x in v):
        raise ValueError(f"expected a non-empty list of {', '.join(valid)}, got {excerpt(repr(v), 60)}")
    wanted = {x.strip().lower() for x in v}
    unknown = sorted(wanted - set(valid))
    if unknown:
        raise ValueError(f"unknown {', '.join(excerpt(u, 10) for u in unknown)}; valid: {', '.join(valid)}")
    return tuple(x for x in valid if x in wanted)  # the product's order, whatever the file's


_PARSERS = {"bool": _bool, "int": _int, "float": _float, "text": _text, "url": _url, "path": _path,
            "symbols": _symbols, "timeframe": _timeframe, "timeframes": _timeframes}

TOP = Section("", (
    Field("data_dir", "path", label="data folder"),
    Field("window_15m", "int", 100, 1_000_000, "15m candles in memory"),
    Field("window_1h", "int", 50, 1_000_000, "1h candles in memory"),
    Field("timeframes", "timeframes", label="timeframes shown"),
))
EXCHANGE = Section("exchanges.<name>", (
    Field("enabled", "bool", label="enabled"),
    Field("rest_url", "url", label="REST URL"),
    Field("ws_url", "url", label="WS URL"),
    Field("symbols", "symbols", label="Symbols"),
))
RISK = Section("trading.risk", (
    Field("max_position_usdt", "float", 0, 1e12, "max position usdt", above=True),
    Field("max_open_positions", "int", 1, 1000, "max open positions"),
    Field("daily_loss_limit_usdt", "float", 0, 1e12, "daily loss limit usdt", above=True),
    Field("max_position_krw", "float", 0, 1e15, "max position krw", above=True),
    Field("daily_loss_limit_krw", "float", 0, 1e15, "daily loss limit krw", above=True),
))
STRATEGY = Section("trading.strategy", (
    Field("rsi_period", "int", 2, 200, "rsi period"),
    Field("rsi_timeframe", "timeframe", label="rsi timeframe"),
    Field("rsi_low", "float", 0, 100, "rsi low"),
    Field("rsi_high", "float", 0, 100, "rsi high"),
    Field("take_profit_pct", "float", 0, 100, "take profit pct", above=True),
    Field("stop_loss_pct", "float", 0, 100, "stop loss pct", above=True),
))
TRADING = Section("trading", (
    Field("order_usdt", "float", 1, 1e9, "order usdt"),
    Field("paper_balance", "float", 1, 1e12, "paper balance"),
    Field("order_krw", "float", 1_000, 1e12, "order krw"),
    Field("paper_balance_krw", "float", 1_000, 1e15, "paper balance krw"),
    Field("fee_rate", "float", 0, 0.01, "fee rate"),
    Field("slippage_bps", "float", 0, 500, "slippage bps"),
    Field("scanner_watch", "int", 1, 50, "scanner watch"),
    Field("scanner_rescan_s", "float", 10, 86_400, "scanner rescan s"),
    Field("multi_top_n", "int", 1, 500, "multi top n"),
    Field("multi_scan_s", "float", 1, 86_400, "multi scan s"),
    Field("multi_rsi_timeframe", "timeframe", label="multi rsi timeframe"),
    Field("scanner_symbols", "symbols", 1, label="scanner symbols"),
))
# The dialog's Trading tab, in this order
TRADING_GROUPS = (("Risk limits", RISK), ("Strategy", STRATEGY), ("Bots and paper trading", TRADING))


def schema_field(path: tuple[str, ...]) -> Field:
    """The Field at a path of the file, e.g. ("trading", "risk", "max_open_positions") or
    ("exchanges", "okx", "ws_url")."""
    if path[0] == "exchanges":
        return EXCHANGE.field(path[2])
    if path[0] == "trading":
        section = {"risk": RISK, "strategy": STRATEGY}.get(path[1], TRADING)
        return section.field(path[-1])
    return TOP.field(path[0])


# -- the settings ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TradingSettings:
    """Bots, paper executor and risk limits (keys never here: they live in the OS keyring)."""

    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    risk: RiskLimits = field(default_factory=RiskLimits)
    paper_balance: float = 10_000.0
    fee_rate: float = 0.00055  # taker fee, fraction
    slippage_bps: float = 2.0
    order_usdt: float = 100.0  # notional per entry
    order_krw: float = 100_000.0  # the same on the KRW venues (Upbit, Bithumb)
    paper_balance_krw: float = 10_000_000.0
    scanner_symbols: tuple[str, ...] = SCANNER_PRESETS
    scanner_watch: int = 8  # stage 2: watch the best 5-10
    scanner_rescan_s: float = 900.0
    multi_top_n: int = 50
    multi_scan_s: float = 30.0
    multi_rsi_timeframe: str = "15m"  # the MultiTrader reads its RSI pattern on 15m candles by default

    def order_notional(self, currency: str) -> float:
        """A bot's order size in the venue's quote currency (USDT or KRW)."""
        return self.order_krw if currency == "KRW" else self.order_usdt

    def paper_start_balance(self, currency: str) -> float:
        return self.paper_balance_krw if currency == "KRW" else self.paper_balance

    def multi_strategy(self) -> StrategyConfig:
        return replace(self.strategy, rsi_timeframe=Timeframe.parse(self.multi_rsi_timeframe))


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

    def enabled_exchanges(self) -> list[str]:
        """The exchanges switched on, in the settings' order."""
        return [name for name, ex in self.exchanges.items() if ex.enabled]


def default_config_path() -> Path:
    override = os.environ.get("TWINSTAR_CONFIG", "").strip()
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME)) / "settings.json"


def default_data_dir() -> Path:
    override = os.environ.get("TWINSTAR_DATA_DIR", "").strip()
    return Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME)) / "candles"


# -- reading ----------------------------------------------------------------------------------------------------
def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Read the settings file (missing file = defaults); raise SettingsError naming a bad field."""
    p = Path(path) if path is not None else default_config_path()
    if not p.exists():
        return settings_from_dict({})
    raw = read_settings_file(p)
    try:
        return settings_from_dict(raw, source=p)
    except SettingsError as exc:
        raise SettingsError(f"settings file {p}: {exc}") from None


def read_settings_file(p: Path) -> dict[str, Any]:
    """The file's JSON object: UTF-8, no NaN/Infinity, no key twice, of a sane size; else SettingsError."""
    try:
        if not stat.S_ISREG(p.stat().st_mode):  # a FIFO would block the read for ever; a folder is no file
            raise SettingsError(f"settings file {p}: not a regular file")
        with open(p, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SettingsError(f"settings file {p}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise SettingsError(f"settings file {p}: larger than {MAX_FILE_BYTES:,} bytes; not a settings file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"settings file {p}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    try:
        raw = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, NaN, a duplicate key, a 5,000-digit number
        raise SettingsError(f"settings file {p}: cannot read ({excerpt(exc, 120)})") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"settings file {p}: expected a JSON object")
    return raw


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a setting can take")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {excerpt(key, 40)!r} appears twice")
        out[key] = value
    return out


def settings_from_dict(raw: Mapping[str, Any], source: Path | None = None) -> Settings:
    if not isinstance(raw, Mapping):
        raise SettingsError("settings: expected an object")
    TOP.check_keys(raw, extra=("exchanges", "trading"))
    values = {f.key: f.parse(raw[f.key], f.key) for f in TOP.fields if f.key in raw}
    from_file = values.pop("data_dir", None)
    data_dir = os.environ.get("TWINSTAR_DATA_DIR", "").strip() or from_file or default_data_dir()
    return Settings(Path(data_dir).expanduser(), _exchanges(raw.get("exchanges", {})), source_path=source,
                    trading=trading_from_dict(raw.get("trading", {})), **values)


def _exchanges(raw: Any) -> Mapping[str, ExchangeSettings]:
    if not isinstance(raw, Mapping):
        raise SettingsError("exchanges: expected an object of exchange name -> settings")
    names = exchange_names()
    for name in raw:
        if name not in names:
            raise SettingsError(unknown_key(name, names, "exchanges").replace("unknown key", "unknown exchange"))
    out: dict[str, ExchangeSettings] = {}
    for name in names:
        cfg = raw.get(name, {})
        where = f"exchanges.{name}"
        if not isinstance(cfg, Mapping):
            raise SettingsError(f"{where}: expected an object")
        Section(where, EXCHANGE.fields).check_keys(cfg)
        values = {f.key: f.parse(cfg[f.key], f"{where}.{f.key}") for f in EXCHANGE.fields if f.key in cfg}
        values.setdefault("enabled", name in DEFAULT_ENABLED)
        values.setdefault("symbols", DEFAULT_SYMBOLS.get(name, ()))
        out[name] = ExchangeSettings(**values)
    return MappingProxyType(out)


def _section(raw: Any, section: Section, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """The section's values from the file, checked field by field (absent ones left to the dataclass default)."""
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{section.name}: expected an object")
    section.check_keys(raw, extra)
    return {f.key: f.parse(raw[f.key], f"{section.name}.{f.key}") for f in section.fields if f.key in raw}


def _build(cls: type, values: dict[str, Any], name: str) -> Any:
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:  # rules across fields (rsi_low < rsi_high, percentages in (0, 100))
        raise SettingsError(f"{name}: {exc}") from None


def trading_from_dict(raw: Any) -> TradingSettings:
    """The `trading` section: {"strategy": {...}, "risk": {...}, "order_usdt": 100, ...}."""
    values = _section(raw, TRADING, extra=("strategy", "risk"))
    strategy = _section(raw.get("strategy", {}), STRATEGY)
    if "rsi_timeframe" in strategy:
        strategy["rsi_timeframe"] = Timeframe.parse(strategy["rsi_timeframe"])
    risk = _section(raw.get("risk", {}), RISK)
    out = _build(TradingSettings, {**values, "strategy": _build(StrategyConfig, strategy, STRATEGY.name),
                                   "risk": _build(RiskLimits, risk, RISK.name)}, TRADING.name)
    if not 5 <= out.scanner_watch <= 10:
        log.info("trading.scanner_watch=%d: stage 2 usually watches 5-10 candidates", out.scanner_watch)
    return out


def apply_overrides(trading: TradingSettings, sets: Iterable[str]) -> TradingSettings:
    """The trading settings with `key=value` overrides (strategy.rsi_low=25, risk.max_open_positions=5,
    order_usdt=50), checked as the settings file is: SettingsError names a key that does not exist or a value out
    of range."""
    raw = settings_to_dict(Settings(Path("."), trading=trading))["trading"]
    for item in sets:
        key, sep, text = item.partition("=")
        path = [k.strip() for k in key.strip().split(".")]
        if not sep or not all(path):
            raise SettingsError(f"{item[:60]!r}: expected KEY=VALUE, e.g. strategy.rsi_low=25")
        node: dict[str, Any] = raw
        for k in path[:-1]:
            nxt = node.get(k)
            if not isinstance(nxt, dict):
                raise SettingsError(f"{key.strip()[:60]!r}: no such setting (sections: strategy, risk)")
            node = nxt
        if path[-1] not in node:
            raise SettingsError(f"{key.strip()[:60]!r}: no such setting; valid here: {', '.join(sorted(node))}")
        try:
            value: Any = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: [[[[... nested past the parser's depth
            value = text.strip()
        node[path[-1]] = value
    return trading_from_dict(raw)


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
    strategy = {f.name: getattr(t.strategy, f.name) for f in fields(StrategyConfig)}
    strategy["rsi_timeframe"] = t.strategy.rsi_timeframe.label
    risk = {f.name: getattr(t.risk, f.name) for f in fields(RiskLimits)}
    trading: dict[str, Any] = {"strategy": strategy, "risk": risk}
    for f in fields(TradingSettings):
        if f.name not in ("strategy", "risk"):
            value = getattr(t, f.name)
            trading[f.name] = list(value) if isinstance(value, tuple) else value
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

