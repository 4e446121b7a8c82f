"""Names that become folder names: the seven exchanges' real ids pass, anything that could leave its folder is
refused with a message showing a bounded excerpt of the name."""
import pytest

from twinstar_gui.core.names import BadName, check_exchange, check_symbol, check_timeframe


@pytest.mark.parametrize("name", ["BTCUSDT", "1000PEPEUSDT", "BTC-USDT-SWAP", "KRW-BTC", "BTC_KRW", "x", "9",
                                  "A" * 48])
def test_native_symbol_ids_pass_unchanged(name):
    assert check_symbol(name) == name


@pytest.mark.parametrize("name", ["", "A" * 49, "../etc", "BTC/USDT", "BTC USDT", "-BTC", "_BTC", "BTC.USDT",
                                  "BTC\n", "BTC\x00", "ΒTC", None, 5, b"BTCUSDT"])
def test_symbols_that_could_leave_their_folder_are_refused(name):
    with pytest.raises(BadName, match="symbol name .* is not allowed") as err:
        check_symbol(name)
    assert isinstance(err.value, ValueError)
    assert repr(name)[:20] in str(err.value)  # the user sees which name


def test_the_symbol_message_says_what_is_allowed():
    with pytest.raises(BadName) as err:
        check_symbol("a/b")
    assert str(err.value) == ("symbol name 'a/b' is not allowed (letters, digits, '-' and '_', 1-48 characters, "
                              "starting with a letter or digit)")


@pytest.mark.parametrize("check,limit", [(check_symbol, 60), (check_exchange, 60), (check_timeframe, 30)])
def test_a_hostile_long_name_is_shown_as_a_bounded_excerpt(check, limit):
    name = "../" * 100
    with pytest.raises(BadName) as err:
        check(name)
    shown = repr(name)
    assert f"{shown[:limit]}...(+{len(shown) - limit} chars)" in str(err.value)


@pytest.mark.parametrize("name", ["okx", "bybit", "gate_io", "b2", "a" * 32])
def test_exchange_names_pass(name):
    assert check_exchange(name) == name


@pytest.mark.parametrize("name", ["", "OKX", "1okx", "_okx", "ok-x", "a" * 33, "okx/..", "okx\n", None, 3])
def test_bad_exchange_names_are_refused(name):
    with pytest.raises(BadName) as err:
        check_exchange(name)
    assert str(err.value) == (f"exchange name {repr(name)} is not allowed (lowercase letters, digits, '_')")


@pytest.mark.parametrize("label", ["1m", "15m", "1h", "4h", "1d", "1w", "1M", "30s", "999m"])
def test_timeframe_labels_pass(label):
    assert check_timeframe(label) == label


@pytest.mark.parametrize("label", ["", "m", "15", "0m", "01m", "1000m", "15x", "1H", "15m/..", " 15m", None, 15])
def test_bad_timeframe_labels_are_refused(label):
    with pytest.raises(BadName) as err:
        check_timeframe(label)
    assert str(err.value) == f"timeframe {repr(label)} is not allowed (e.g. 15m, 1h, 1d)"
