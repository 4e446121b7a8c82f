"""Names from the wire never become paths unchecked: a tickers answer naming `../../../../x` (or a 300-character
name) is refused with a log line naming it, the rest is collected, and nothing is created outside the data dir."""
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from twinstar_gui.core.names import BadName
from twinstar_gui.data.store import CandleStore
from twinstar_gui.exchanges import get_exchange

HOSTILE = ["../../../../x", "A" * 300, "BTC/../../USDT", ".."]


class FakeBybit(BaseHTTPRequestHandler):
    """Bybit's REST envelope: tickers naming hostile symbols among good ones; klines empty."""

    def do_GET(self):  # http.server's name
        now = int(time.time() * 1000)
        if self.path.startswith("/v5/market/tickers"):
            names = ["BTCUSDT", *HOSTILE, "ETHUSDT"]
            items = [{"symbol": s, "lastPrice": "100", "turnover24h": str(1e9 - i)} for i, s in enumerate(names)]
            body = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": items}, "time": now}
        else:
            body = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": []}, "time": now}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_bybit():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBybit)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_top_symbols_from_a_hostile_tickers_answer_never_leave_the_data_dir(tmp_path, fake_bybit):
    work = tmp_path / "work"
    data = work / "a" / "b" / "data"  # deep enough for ../../../../x to land inside tmp_path if it escaped
    data.mkdir(parents=True)
    env = {**os.environ, "TWINSTAR_BYBIT_REST_URL": fake_bybit, "TWINSTAR_BYBIT_WS_URL": "ws://127.0.0.1:9/ws",
           "TWINSTAR_CONFIG": str(tmp_path / "none.json")}
    r = subprocess.run([sys.executable, "-m", "twinstar_gui", "collect", "--exchange", "bybit", "--symbols", "top:6",
                        "--data", str(data), "--duration", "1.5", "--health-every", "0.5"], capture_output=True,
                       text=True, timeout=90, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("'../../../../x'", "'BTC/../../USDT'", "'..'", "'AAAAAAAA"):
        assert f"ticker for a symbol refused: symbol name {name}" in r.stderr, name
    assert "top 6 by 24h volume: BTCUSDT,ETHUSDT" in r.stderr
    # data itself too
    made = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if not p.is_relative_to(data))
    assert made == ["work", "work/a", "work/a/b"], made
    assert not list(tmp_path.parent.glob("x"))


@pytest.mark.parametrize("exchange, payload", [
    ("bybit", {"retCode": 0, "result": {"list": [{"symbol": n, "lastPrice": "1", "turnover24h": "5"}
                                                 for n in ["BTCUSDT", *HOSTILE]]}}),
    ("okx", {"code": "0", "data": [{"instId": n, "last": "1", "volCcy24h": "5"}
                                   for n in ["BTC-USDT-SWAP", "../x-USDT-SWAP", "A" * 300 + "-USDT-SWAP"]]}),
    ("bithumb", {"status": "0000", "data": {"BTC": {"closing_price": "1", "acc_trade_value_24H": "5"},
                                            "../../x": {"closing_price": "1", "acc_trade_value_24H": "9"},
                                            "date": "1"}}),
    ("upbit", [{"market": "KRW-BTC", "trade_price": 1, "acc_trade_price_24h": 5},
               {"market": "KRW-../../x", "trade_price": 1, "acc_trade_price_24h": 6}]),
])
def test_every_adapter_drops_ticker_names_that_could_not_be_folders(exchange, payload, caplog):
    frame = get_exchange(exchange).parse_tickers(payload)
    assert len(frame) == 1 and frame["symbol"].iloc[0] in ("BTCUSDT", "BTC-USDT-SWAP", "BTC_KRW", "KRW-BTC")
    assert "ticker for a symbol refused" in caplog.text


def test_the_store_refuses_a_bad_name_whatever_the_caller(tmp_path):
    store = CandleStore(tmp_path / "data")
    for exchange, symbol, tf in (("bybit", "../../x", "15m"), ("../x", "BTCUSDT", "15m"), ("bybit", "BTCUSDT", "../x"),
                                 ("bybit", "BTC\x00USDT", "15m"), ("bybit", "", "15m"), ("BYBIT", "BTCUSDT", "15m")):
        with pytest.raises(BadName):
            store.series_dir(exchange, symbol, tf)
        with pytest.raises(BadName):
            store.load(exchange, symbol, tf)
    assert not (tmp_path / "x").exists() and list(tmp_path.iterdir()) == []
