"""`twinstar symbols` as a user runs it: a child process against a real simulator on loopback (or a dead port)."""
import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from twinstar_gui.core.instrument import Catalog, Instrument
from twinstar_gui.data.catalogs import write_cache
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sim():
    thread = SimThread(Market(SimClock(speed=1.0), seed=9, history_days=2)).start()
    yield thread
    thread.stop()


def bybit_item(base, tick="0.1", lot="0.001", **extra):
    return {"symbol": f"{base}USDT", "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": base,
            "quoteCoin": "USDT", "settleCoin": "USDT", "priceFilter": {"tickSize": tick},
            "lotSizeFilter": {"qtyStep": lot, "minOrderQty": lot, "minNotionalValue": "5"}, **extra}


@pytest.fixture
def fake_bybit():
    """A Bybit on loopback answering /v5/market/instruments-info from `pages`: cursor -> (items, next cursor), or
    the bytes of a whole answer."""
    pages: dict[str, tuple[list, str] | bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            cursor = parse_qs(urlparse(self.path).query).get("cursor", [""])[0]
            page = pages.get(cursor, ([], ""))
            data = page if isinstance(page, bytes) else json.dumps(
                {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": page[0],
                                                          "nextPageCursor": page[1]}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def env_for(url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINSTAR_")}
    env["PYTHONPATH"] = str(ROOT)
    if url:
        env["TWINSTAR_BYBIT_REST_URL"] = url
        env["TWINSTAR_OKX_REST_URL"] = url
    return env


def symbols(tmp_path, *args, url=None, **kw):
    cmd = [sys.executable, "-m", "twinstar_gui", "symbols", *args, "--data", str(tmp_path / "data"),
           "--config", str(tmp_path / "no-settings.json")]
    return subprocess.run(cmd, capture_output=True, text=True, env=env_for(url), timeout=120, cwd=tmp_path, **kw)


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()]


def test_lists_every_instrument_one_a_line(sim, tmp_path):
    r = symbols(tmp_path, "--exchange", "bybit", url=sim.rest_url("bybit"))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    table = rows(r.stdout)
    assert len(table) == len(sim.market.symbols) - 1  # MATIC is delisted: Bybit lists trading ones only
    assert [t[0] for t in table] == sorted(t[0] for t in table)
    by_native = {t[1]: t for t in table}
    spec = sim.market.spec("BTCUSDT")
    assert by_native["BTCUSDT"] == ["BTC/USDT:USDT", "BTCUSDT", f"{spec.tick:g}", f"{spec.lot:g}", "5", "USDT",
                                    "trading"]
    assert by_native["1000PEPEUSDT"][:3] == ["1000PEPE/USDT:USDT", "1000PEPEUSDT", "0.0000001"]  # no exponent
    assert (tmp_path / "data" / "_catalogs" / "bybit.json").is_file()  # the list is cached for next time


def test_search_lists_the_matches_best_first(sim, tmp_path):
    r = symbols(tmp_path, "--exchange", "bybit", "--search", "sol", url=sim.rest_url("bybit"))
    assert r.returncode == 0, r.stderr
    assert [t[0] for t in rows(r.stdout)] == ["SOL/USDT:USDT"]
    r = symbols(tmp_path, "--exchange", "bybit", "--search", "ETH-usdt", url=sim.rest_url("bybit"))
    assert [t[1] for t in rows(r.stdout)] == ["ETHUSDT"]
    r = symbols(tmp_path, "--exchange", "bybit", "--search", "pepe", url=sim.rest_url("bybit"))
    assert [t[1] for t in rows(r.stdout)] == ["1000PEPEUSDT"]


def test_no_match_exits_1_saying_so(sim, tmp_path):
    r = symbols(tmp_path, "--exchange", "bybit", "--search", "zzzz", url=sim.rest_url("bybit"))
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.strip() == "twinstar symbols: no bybit instrument matches 'zzzz'"
    r = symbols(tmp_path, "--exchange", "bybit", "--search", "ВТС\x1b[2J", url=sim.rest_url("bybit"))
    assert r.returncode == 1 and "\x1b" not in r.stderr and "no bybit instrument matches" in r.stderr


def test_unknown_exchange_exits_2_naming_the_valid_ones(tmp_path):
    r = symbols(tmp_path, "--exchange", "kraken")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.strip() == ("twinstar symbols: unknown exchange 'kraken'; valid: bybit, binance, okx, bitget, "
                                "bingx, upbit, bithumb")
    r = symbols(tmp_path, "--exchange", "../../etc\x1b[2J" + "x" * 500)
    assert r.returncode == 2 and "\x1b" not in r.stderr and len(r.stderr) < 300


def test_unreachable_with_a_cache_prints_the_cached_list_and_says_so(sim, tmp_path):
    assert symbols(tmp_path, "--exchange", "bybit", url=sim.rest_url("bybit")).returncode == 0
    r = symbols(tmp_path, "--exchange", "bybit", url=closed_port_url())
    assert r.returncode == 0, r.stderr
    assert len(rows(r.stdout)) == len(sim.market.symbols) - 1
    note = [line for line in r.stderr.splitlines() if line.startswith("twinstar symbols:")]
    assert len(note) == 1 and "instrument list not loaded (cannot connect)" in note[0]
    assert f"showing the {len(sim.market.symbols) - 1} instruments from a cache" in note[0]
    assert note[0].count("cannot connect") == 1  # the reason once, not twice
    assert "Traceback" not in r.stderr


def test_unreachable_cache_with_all_shows_what_no_longer_trades(tmp_path):
    def perp(base, status="trading"):
        return Instrument("bybit", f"{base}/USDT:USDT", f"{base}USDT", base, "USDT", "USDT", "swap", 0.01, 0.1,
                          0.1, 5.0, status)

    write_cache(tmp_path / "data", Catalog("bybit", [perp("BTC"), perp("MATIC", "closed")],
                                           fetched_ms=1_700_000_000_000))
    url = closed_port_url()
    assert [t[0] for t in rows(symbols(tmp_path, "--exchange", "bybit", url=url).stdout)] == ["BTC/USDT:USDT"]
    r = symbols(tmp_path, "--exchange", "bybit", "--all", url=url)
    assert [(t[0], t[-1]) for t in rows(r.stdout)] == [("BTC/USDT:USDT", "trading"), ("MATIC/USDT:USDT", "closed")]
    r = symbols(tmp_path, "--exchange", "bybit", "--all", "--search", "matic-usdt", url=url)
    assert [t[1] for t in rows(r.stdout)] == ["MATICUSDT"]  # matched as --search matches: separators ignored


def test_unreachable_and_no_cache_exits_1(tmp_path):
    r = symbols(tmp_path, "--exchange", "bybit", url=closed_port_url())
    assert (r.returncode, r.stdout) == (1, "")
    assert ("twinstar symbols: bybit: instrument list not loaded (cannot connect); no cached list either"
            in r.stderr.splitlines())
    assert "Traceback" not in r.stderr


def test_pages_that_overlap_list_each_instrument_once(fake_bybit, tmp_path):
    # a listing between two page requests shifts the pages: ETH came on both, and a cursor the exchange repeats
    # fetched the last page twice; each was printed (and cached) as many times as it came
    url, pages = fake_bybit
    pages[""] = ([bybit_item("BTC"), bybit_item("ETH", tick="0.01")], "p2")
    pages["p2"] = ([bybit_item("ETH", tick="0.01"), bybit_item("SOL", tick="0.001")], "p2")
    r = symbols(tmp_path, "--exchange", "bybit", url=url)
    assert r.returncode == 0, r.stderr
    assert [t[1] for t in rows(r.stdout)] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    cached = json.loads((tmp_path / "data" / "_catalogs" / "bybit.json").read_text())
    assert sorted(row[1] for row in cached["instruments"]) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    r = symbols(tmp_path, "--exchange", "bybit", "--all", url=closed_port_url())  # from that cache
    assert [t[1] for t in rows(r.stdout)] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


@pytest.mark.parametrize("body, said, shown", [
    (b"<html><body>502 Bad Gateway</body></html>", "not JSON", "<html><body>502 Bad Gateway"),
    (b'{"retCode": 0, "retMsg": "OK", "result": {"list": "BTCUSDT"}}', "result.list missing", "'list': 'BTCUSDT'"),
    (b'{"retCode": 0, "result": {"list": [' + b"[" * 100_000, "nests too deep", '{"retCode": 0, "result"')])
def test_an_unreadable_list_is_one_line_naming_the_exchange_and_what_came(fake_bybit, tmp_path, body, said, shown):
    # said only "(unreadable answer)" before: nothing of what the exchange sent, nor why it was refused
    url, pages = fake_bybit
    pages[""] = body
    r = symbols(tmp_path, "--exchange", "bybit", url=url)
    assert (r.returncode, r.stdout) == (1, "")
    (line,) = r.stderr.splitlines()
    assert line.startswith("twinstar symbols: bybit: instrument list not loaded (unreadable answer: ") and said in line
    assert shown in line and line.endswith("; no cached list either") and len(line) < 400


def test_a_reader_that_stops_reading_is_a_clean_exit(sim, tmp_path):
    # `twinstar symbols ... | head -1`: the reader goes away before the list is written
    cmd = [sys.executable, "-m", "twinstar_gui", "symbols", "--exchange", "bybit", "--data", str(tmp_path / "d"),
           "--config", str(tmp_path / "none.json")]
    with open(tmp_path / "err", "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env_for(sim.rest_url("bybit")))
        proc.stdout.close()  # nothing read, before anything was written
        assert proc.wait(120) == 0
    assert (tmp_path / "err").read_text() == ""


def test_head_in_a_shell_pipeline(sim, tmp_path):
    cmd = (f"{sys.executable} -m twinstar_gui symbols --exchange bybit --data {tmp_path / 'd'} "
           f"--config {tmp_path / 'none.json'} | head -2; exit ${{PIPESTATUS[0]}}")
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env_for(sim.rest_url("bybit")),
                       timeout=120)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2 and r.stderr == ""


def test_all_with_a_search_matching_only_what_no_longer_trades(tmp_path):
    # exited 1 "no instrument matches" before: the ones not trading were looked at only after that verdict
    closed = Instrument("bybit", "LUNA/USDT:USDT", "LUNAUSDT", "LUNA", "USDT", "USDT", "swap", 0.01, 0.1, 0.1, 5.0,
                        "closed")
    write_cache(tmp_path / "data", Catalog("bybit", [closed], fetched_ms=1_700_000_000_000))
    url = closed_port_url()
    r = symbols(tmp_path, "--exchange", "bybit", "--all", "--search", "luna", url=url)
    assert r.returncode == 0 and [t[0] for t in rows(r.stdout)] == ["LUNA/USDT:USDT"]
    assert symbols(tmp_path, "--exchange", "bybit", "--search", "luna", url=url).returncode == 1


@pytest.mark.parametrize("value, text", [(0.1, "0.1"), (5.0, "5"), (5, "5"), (0, "0"), (1e-7, "0.0000001"),
                                         (1e-13, "0.0000000000001"), (0.00012345678901234, "0.00012345678901234"),
                                         (1e15, "1000000000000000"), (2_000_000.0, "2000000")])
def test_numbers_are_written_as_the_exchange_writes_them(value, text):
    from twinstar_gui.symbolscli import number

    assert number(value) == text  # a fixed 12 decimals printed a 1e-13 tick as 0


def test_a_line_shows_krw_ticks_by_price_and_lots_in_base_units():
    from twinstar_gui.symbolscli import line

    krw = Instrument("upbit", "BTC/KRW", "KRW-BTC", "BTC", "KRW", "", "spot", 0.0, 1e-8, 1e-8, 5000.0,
                     tick_table=((2_000_000.0, 1000.0), (0.0, 0.01)))
    assert line(krw).replace("(by price)", "(by-price)").split() == [
        "BTC/KRW", "KRW-BTC", "0.01..1000(by-price)", "0.00000001", "5000", "KRW", "trading"]
    okx = Instrument("okx", "BTC/USDT:USDT", "BTC-USDT-SWAP", "BTC", "USDT", "USDT", "swap", 0.1, 1, 1, 0,
                     contract_size=0.01)
    assert line(okx).split()[2:5] == ["0.1", "0.01", "0"]
