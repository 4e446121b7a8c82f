import json

import pytest

from twinstar_gui.config import SettingsError, load_settings, settings_from_dict


def test_defaults_and_env_overrides(tmp_path, monkeypatch):
    s = load_settings(tmp_path / "missing.json")
    assert s.symbols("bybit") == ("BTCUSDT", "ETHUSDT", "SOLUSDT") and s.window_15m == 1000
    assert s.rest_url("bybit") is None
    assert [n for n, e in s.exchanges.items() if e.enabled] == ["bybit"]
    assert s.symbols("okx") == ("BTC-USDT-SWAP", "ETH-USDT-SWAP") and s.symbols("bithumb") == ("BTC_KRW", "ETH_KRW")
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
