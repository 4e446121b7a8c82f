"""`twinstar collect` at scale: shards that share one dataset tree, `top:N`, one writer per series."""
import os
import subprocess
import sys
import time

import pyarrow.dataset as ds
import pytest

from twinstar_gui.collector import UsageError, in_shard, parse_shard, parse_symbols
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread

SYMBOLS = [f"S{i}USDT" for i in range(200)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_every_symbol_lands_in_exactly_one_shard(n):
    for sym in SYMBOLS:
        assert sum(in_shard("bybit", sym, (i, n)) for i in range(1, n + 1)) == 1
    sizes = [sum(in_shard("bybit", s, (i, n)) for s in SYMBOLS) for i in range(1, n + 1)]
    assert min(sizes) >= 200 / n * 0.6  # roughly balanced


def test_shard_and_symbol_arguments_are_checked():
    assert parse_shard("2/3") == (2, 3) and parse_shard(None) is None
    for bad, why in (("0/2", "numbered 1..n"), ("3/2", "numbered 1..n"), ("1-2", "expected i/n")):
        with pytest.raises(UsageError, match=why):
            parse_shard(bad)
    assert parse_symbols("top:50") == 50 and parse_symbols("btcusdt, ethusdt") == ["BTCUSDT", "ETHUSDT"]
    with pytest.raises(UsageError, match="top:N needs"):
        parse_symbols("top:0")


def _collect(sim, data, *args):
    env = {**os.environ, "TWINSTAR_BYBIT_REST_URL": sim.rest_url("bybit"), "TWINSTAR_BYBIT_WS_URL": sim.ws_url("bybit"),
           "TWINSTAR_CONFIG": str(data / "no-settings.json")}
    return subprocess.Popen([sys.executable, "-m", "twinstar_gui", "collect", "--exchange", "bybit",
                             "--data", str(data), "--health-every", "0.5", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _held(data, symbol) -> bool:
    lock = data / "exchange=bybit" / f"symbol={symbol}" / "tf=15m" / ".writer.lock"
    try:
        return lock.read_text().startswith("pid ")
    except OSError:
        return False


def test_two_shards_of_the_top_symbols_share_one_tree(tmp_path):
    sim = SimThread(Market(SimClock(speed=3600.0), seed=5, history_days=11)).start()
    data = tmp_path / "data"
    try:
        import requests

        tickers = requests.get(f"{sim.rest_url('bybit')}/v5/market/tickers", params={"category": "linear"},
                               timeout=5).json()["result"]["list"]
        ranked = sorted(tickers, key=lambda t: -float(t["turnover24h"]))
        top = [t["symbol"] for t in ranked[:12]]
        procs = [_collect(sim, data, "--symbols", "top:12", "--shard", f"{i}/2", "--duration", "8") for i in (1, 2)]
        # wait until the shards hold their series (a lock file naming its writer, one per series)
        deadline = time.monotonic() + 60
        while sum(_held(data, s) for s in top) < 10:
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "the shards did not start"
            time.sleep(0.05)
        # a third collector pointed at a series a shard already writes is refused, naming the holder
        clash = _collect(sim, data, "--symbols", ",".join(top), "--duration", "1")
        c_out, c_err = clash.communicate(timeout=60)
        outs = [p.communicate(timeout=90) for p in procs]
    finally:
        sim.stop()
    assert clash.returncode == 3, c_err[-2000:]
    assert "written by another collector" in c_err and "already being written by pid" in c_err
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "stopped: every candle flushed" in out
        assert "history up to date" in out  # progress lines end when every series has caught up
    taken = [line.rsplit("symbols: ", 1)[1].split(",") for _, err in outs for line in err.splitlines()
             if "bybit: shard" in line and " takes " in line]
    # each process ranks the tickers itself a moment later (24 h volumes move with the 3600x clock), so the
    # union may differ from our ranking by a symbol near the cut; the shards never overlap, whatever they saw
    assert len(taken) == 2 and not set(taken[0]) & set(taken[1])
    union = set(taken[0] + taken[1])
    assert len(union & set(top)) >= 10 and len(union) <= 14
    table = ds.dataset(data, format="parquet", partitioning="hive").to_table().to_pandas()  # no code of ours
    assert set(table["symbol"].unique()) == union
    assert not table.duplicated(["symbol", "timestamp"]).any()
    assert (table.groupby("symbol").size() >= 1000).all()
