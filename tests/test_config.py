import json

import pytest

from twinstar_gui.config import SettingsError, load_settings, settings_from_dict


def test_defaults_and_env_overrides(tmp_path, monkeypatch):
    s = load_settings(tmp_path / "missing.json")
    assert s.symbols("bybit") == ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT") and s.window_15m == 1000
    assert s.rest_url("bybit") is None
    assert [n for n, e in s.exchanges.items() if e.enabled] == ["bybit"]
    assert s.symbols("okx") == ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
    assert s.symbols("bithumb") == ("BTC/KRW", "ETH/KRW", "SOL/KRW")
    monkeypatch.setenv("TWINSTAR_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("TWINSTAR_BYBIT_WS_URL", "ws://127.0.0.1:1/bybit/v5/public/linear")
    s = settings_from_dict({"exchanges": {"bybit": {"ws_url": "wss://file.example/ws"}}})
    assert s.data_dir == tmp_path / "d"
    assert s.ws_url("bybit") == "ws://127.0.0.1:1/bybit/v5/public/linear"  # env beats the file


def test_file_values(tmp_path):
    p = tmp_path / "settings.json"
    p.write_text(json.dumps({"data_dir": str(tmp_path / "x"), "window_15m": 500,
                             "exchanges": {"bybit": {"symbols": ["btcusdt"], "rest_url": "http://127.0.0.1:5/bybit"}}}))
    s = load_settings(p)
    assert s.symbols("bybit") == ("BTCUSDT",) and s.rest_url("bybit") == "http://127.0.0.1:5/bybit"
    assert s.window_15m == 500 and s.source_path == p


@pytest.mark.parametrize("raw, field", [
    ({"window_15m": 5}, "window_15m"),
    ({"window_15m": "lots"}, "window_15m"),
    ({"exchanges": {"mtgox": {}}}, "exchanges.mtgox"),
    ({"exchanges": {"bybit": {"symbols": "BTCUSDT"}}}, "exchanges.bybit.symbols"),
    ({"exchanges": {"bybit": {"rest_url": "ftp://x"}}}, "exchanges.bybit.rest_url"),
])
def test_bad_values_name_the_field(raw, field):
    with pytest.raises(SettingsError, match=field.replace(".", r"\.")):
        settings_from_dict(raw)


def test_broken_file_is_a_clear_error(tmp_path):
    p = tmp_path / "settings.json"
    p.write_text("{oops")
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(p)


def test_choose_exchanges_symbols_and_testnet_urls():
    s = settings_from_dict({"exchanges": {"bybit": {"enabled": False},
                                          "binance": {"enabled": True, "symbols": ["BTCUSDT"],
                                                      "rest_url": "https://testnet.binancefuture.com"}}})
    assert [n for n, e in s.exchanges.items() if e.enabled] == ["binance"]
    assert s.rest_url("binance") == "https://testnet.binancefuture.com" and s.symbols("binance") == ("BTCUSDT",)


@pytest.mark.parametrize("raw, message", [
    ({"windw_1h": 300}, "windw_1h: unknown key; did you mean 'window_1h'?"),
    ({"exchanges": {"bybit": {"enabeld": True}}}, "exchanges.bybit.enabeld: unknown key; did you mean 'enabled'?"),
    ({"trading": {"risk": {"max_open_position": 2}}}, "did you mean 'max_open_positions'?"),
    ({"trading": {"ordr_usdt": 5}}, "trading.ordr_usdt: unknown key; did you mean 'order_usdt'?"),
    ({"exchanges": {"bybitt": {}}}, "exchanges.bybitt: unknown exchange; did you mean 'bybit'?"),
    ({"exchanges": {"bybit": {"enabled": "no"}}}, "exchanges.bybit.enabled: expected true or false"),
    ({"exchanges": {"okx": {"enabled": 1}}}, "exchanges.okx.enabled: expected true or false"),
    ({"window_15m": 1000.5}, "window_15m: expected an integer"),
    ({"window_15m": True}, "window_15m: expected an integer"),
    ({"trading": {"order_usdt": float("inf")}}, "trading.order_usdt: expected a number"),
    ({"trading": {"order_usdt": float("nan")}}, "trading.order_usdt: expected a number"),
    ({"trading": {"strategy": {"rsi_period": 14.5}}}, "trading.strategy.rsi_period: expected an integer"),
    ({"trading": {"strategy": {"rsi_low": 80, "rsi_high": 70}}}, "trading.strategy: need 0 <= rsi_low < rsi_high"),
    ({"trading": {"risk": {"max_open_positions": True}}}, "trading.risk.max_open_positions: expected an integer"),
    ({"trading": "lots"}, "trading: expected an object"),
    ({"data_dir": 42}, "data_dir: expected a folder path"),
    ({"data_dir": "x" * 5000}, "data_dir: expected a folder path"),
    ({"exchanges": {"bybit": {"rest_url": "http://" + "a" * 3000}}},
     "exchanges.bybit.rest_url: not a http(s)/ws(s) URL"),
    ({"exchanges": {"bybit": {"rest_url": "http://host:99999/x"}}},
     "exchanges.bybit.rest_url: not a http(s)/ws(s) URL"),
    ({"exchanges": {"bybit": {"symbols": ["BTCUSDT", "../../../x"]}}}, "exchanges.bybit.symbols: symbol name"),
    ({"exchanges": {"bybit": {"symbols": ["A" * 300]}}}, "exchanges.bybit.symbols: symbol name"),
    ({"exchanges": {"bybit": {"symbols": [f"S{i}USDT" for i in range(600)]}}}, "at most 500 symbols"),
    ({"exchanges": {"bybit": {"symbols": [1, 2]}}}, "exchanges.bybit.symbols: symbol name"),
    ({"timeframes": ["15m", "2h"]}, "timeframes: unknown 2h"),
    ({"trading": {"scanner_symbols": []}}, "trading.scanner_symbols: expected a non-empty list"),
    ({"trading": {"order_usdt": 10 ** 400}}, "trading.order_usdt: expected a number"),
    ({"exchanges": {"bybit": {"rest_url": "http://host/\x00x"}}}, "exchanges.bybit.rest_url: not a http(s)/ws(s) URL"),
    ({"exchanges": {"bybit": {"symbols": ["\u017fOLUSDT"]}}}, "exchanges.bybit.symbols: symbol name"),
    ({"exchanges": {"bybit": {"symbols": ["stra\u00dfe"]}}}, "exchanges.bybit.symbols: symbol name"),
])
def test_hostile_values_are_refused_naming_the_field(raw, message):
    with pytest.raises(SettingsError) as err:
        settings_from_dict(raw)
    assert message in str(err.value)


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe{\x00}\x00", "not UTF-8 text"),
    (b'{"window_15m": 1000, "window_15m": 200}', "appears twice"),
    (b'{"trading": {"order_usdt": NaN}}', "NaN is not a number a setting can take"),
    (b'{"trading": {"order_usdt": Infinity}}', "Infinity is not a number a setting can take"),
    (b'{"window_15m": ' + b"9" * 5000 + b"}", "cannot read"),
    (b"[1, 2]", "expected a JSON object"),
    (b"{" * 100_000, "cannot read"),
    (b" " * 1_000_001, "not a settings file"),
])
def test_a_file_that_is_not_sound_json_is_refused_without_a_traceback(tmp_path, content, message):
    p = tmp_path / "settings.json"
    p.write_bytes(content)
    with pytest.raises(SettingsError) as err:
        load_settings(p)
    assert message in str(err.value) and str(p) in str(err.value)


def test_a_settings_file_round_trips_unchanged(tmp_path):
    from twinstar_gui.config import save_settings

    s = settings_from_dict({"window_15m": 1500, "exchanges": {"okx": {"enabled": True, "symbols": ["btc-usdt-swap"]}},
                            "trading": {"risk": {"max_open_positions": 4}, "strategy": {"rsi_timeframe": "1h"}}})
    save_settings(s, tmp_path / "s.json")
    back = load_settings(tmp_path / "s.json")
    assert back.exchanges == s.exchanges and back.trading == s.trading and back.window_15m == 1500
    assert back.symbols("okx") == ("BTC-USDT-SWAP",)


def test_a_settings_path_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "settings.fifo"
    os.mkfifo(fifo)  # reading it would wait for a writer for ever
    for p in (fifo, tmp_path):
        with pytest.raises(SettingsError, match="not a regular file"):
            load_settings(p)
