"""The simulator's signed APIs answer hostile requests with the venue's own errors, never an exception (which the
server would turn into a 500): non-ASCII credentials, a symbol that is not a string, numbers past any price."""
import hashlib
import hmac
import json
import time

import pytest

from twinstar_gui.sim.bybit_private import BybitAccount
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market


@pytest.fixture(scope="module")
def bybit():
    return BybitAccount(Market(SimClock(speed=1.0), seed=1), "k", "s")


def signed(account, path, params, key="k", sign_key=None):
    body = json.dumps(params)
    ts, window = str(int(time.time() * 1000)), "5000"
    sign = hmac.new(b"s", (ts + (sign_key or key) + window + body).encode(), hashlib.sha256).hexdigest()
    return account.handle("POST", path, "", body.encode(), {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": ts,
                                                            "X-BAPI-RECV-WINDOW": window, "X-BAPI-SIGN": sign})


ORDER = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.01"}


@pytest.mark.parametrize(("change", "code"), [
    ({"symbol": ["BTCUSDT"]}, 10001),
    ({"symbol": {"a": 1}}, 10001),
    ({"qty": "1e400"}, 10001),
    ({"qty": "9" * 40}, 10001),
    ({"qty": "-1"}, 10001),
    ({"orderType": "Limit", "price": "1e999999999"}, 10001),
])
def test_hostile_parameters_get_bybits_parameter_error(bybit, change, code):
    status, answer = signed(bybit, "/v5/order/create", {**ORDER, **change})
    assert (status, answer["retCode"]) == (200, code), answer


def test_non_ascii_credentials_are_an_unknown_key_not_a_crash(bybit):
    status, answer = signed(bybit, "/v5/order/create", ORDER, key="k\u00e9y")
    assert (status, answer["retCode"]) == (200, 10003)
    status, answer = signed(bybit, "/v5/order/create", ORDER)
    assert (status, answer["retCode"]) == (200, 0)  # the same request, rightly signed, goes through
