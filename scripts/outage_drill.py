"""Outage drill: two `twinstar collect` processes on one simulated exchange, one direct, one through a proxy that
refuses every connection for the first OUTAGE seconds and again for OUTAGE seconds mid-run. At the end both
datasets must hold the same candles (the outage run backfilled everything it missed).

    .venv/bin/python scripts/outage_drill.py [--exchange okx] [--outage 60] [--speed 60] [--run 300]

Prints what each collector said about the outage and the comparison; exit 0 when the datasets are equal.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.proxy import FlakyProxy  # noqa: E402

from twinstar_gui.data.store import CandleStore  # noqa: E402
from twinstar_gui.sim.clock import SimClock  # noqa: E402
from twinstar_gui.sim.market import Market  # noqa: E402
from twinstar_gui.sim.server import SimThread  # noqa: E402

SYMBOLS = {"bybit": "BTCUSDT,ETHUSDT", "binance": "BTCUSDT,ETHUSDT", "okx": "BTC-USDT-SWAP,ETH-USDT-SWAP",
           "bitget": "BTCUSDT,ETHUSDT", "bingx": "BTC-USDT,ETH-USDT", "upbit": "KRW-BTC,KRW-ETH",
           "bithumb": "BTC_KRW,ETH_KRW"}


def collector(exchange: str, rest: str, ws: str, data: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, f"TWINSTAR_{exchange.upper()}_REST_URL": rest, f"TWINSTAR_{exchange.upper()}_WS_URL": ws,
           "TWINSTAR_CONFIG": str(data.parent / "none.json")}
    with open(log, "w") as fh:
        return subprocess.Popen([sys.executable, "-m", "twinstar_gui", "collect", "--exchange", exchange, "--symbols",
                                 SYMBOLS[exchange], "--data", str(data), "--health-every", "5"],
                                stdout=fh, stderr=subprocess.STDOUT, text=True, env=env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exchange", default="okx", choices=sorted(SYMBOLS))
    ap.add_argument("--outage", type=float, default=60.0)
    ap.add_argument("--speed", type=float, default=60.0, help="simulator clock: 60 = a 15m candle every 15 s")
    ap.add_argument("--run", type=float, default=300.0, help="seconds the collectors run in all")
    args = ap.parse_args()
    ex = args.exchange
    work = Path(tempfile.mkdtemp(prefix="twinstar-drill-"))
    sim = SimThread(Market(SimClock(speed=args.speed), seed=9, history_days=30)).start()
    proxy = FlakyProxy(sim.server.port)  # refusing from the start
    via = lambda url: url.replace(f":{sim.server.port}/", f":{proxy.port}/")
    t0 = time.monotonic()
    direct = collector(ex, sim.rest_url(ex), sim.ws_url(ex), work / "direct", work / "direct.log")
    flaky = collector(ex, via(sim.rest_url(ex)), via(sim.ws_url(ex)), work / "flaky", work / "flaky.log")
    mid = args.outage + (args.run - 2 * args.outage) / 2
    try:
        time.sleep(args.outage)
        proxy.forward()
        print(f"{time.monotonic() - t0:6.1f}s  exchange reachable")
        time.sleep(max(0.0, mid - (time.monotonic() - t0)))
        proxy.refuse()
        print(f"{time.monotonic() - t0:6.1f}s  outage ({args.outage:.0f} s)")
        time.sleep(args.outage)
        proxy.forward()
        print(f"{time.monotonic() - t0:6.1f}s  exchange reachable")
        time.sleep(max(0.0, args.run - (time.monotonic() - t0)))
    finally:
        for p in (direct, flaky):
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(30) for p in (direct, flaky)]
        proxy.close()
        sim.stop()
    text = (work / "flaky.log").read_text()
    said = [line for line in text.splitlines() if "rest_retrying" in line or "REST answers again" in line
            or "rejected" in line]
    print(f"exit codes: direct {codes[0]}, through the outages {codes[1]}")
    print(f"outage run said ({len(said)} lines), e.g.:\n  " + "\n  ".join(said[:1] + said[-2:]))
    ok = codes == [0, 0] and "rejected" not in text
    for sym in SYMBOLS[ex].split(","):
        a = CandleStore(work / "direct").load(ex, sym)
        b = CandleStore(work / "flaky").load(ex, sym)
        first = max(a["timestamp"].iloc[0], b["timestamp"].iloc[0]) if len(a) and len(b) else None
        last = min(a["timestamp"].iloc[-1], b["timestamp"].iloc[-1]) if len(a) and len(b) else None
        cols = ["timestamp", "open", "high", "low", "close", "volume"]
        sa = a[(a.timestamp >= first) & (a.timestamp <= last)][cols].reset_index(drop=True) if first is not None else a
        sb = b[(b.timestamp >= first) & (b.timestamp <= last)][cols].reset_index(drop=True) if first is not None else b
        same = first is not None and sa.equals(sb)
        gaps = int((b["timestamp"].diff().dropna() != b["timestamp"].diff().dropna().min()).sum()) if len(b) > 1 else -1
        print(f"{sym}: direct {len(a)} candles, through the outages {len(b)}; common range {first} .. {last}: "
              f"{'identical' if same else 'DIFFERENT'} ({len(sa)} candles); gaps in the outage run: {gaps}")
        ok = ok and same and gaps == 0
    print("PASS" if ok else "FAIL", f"(logs in {work})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
