"""Parse throughput per exchange: kline frames/s through parse_ws_message vs json.loads alone, one core.

Frames: each exchange's documented 15m kline frame (BingX gzipped, Upbit binary, as on the wire), plus Bybit's
real recorded frames. Usage: .venv/bin/python bench/bench_parse.py [--seconds 1.0]
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from twinstar_gui.exchanges import get_exchange  # noqa: E402

from _report import add_json_option, row, write_json  # noqa: E402 (bench/ = the script's dir)

FIX = ROOT / "tests" / "fixtures"


def frames_for(exchange: str) -> list[str | bytes]:
    real = FIX / exchange / "ws_kline.jsonl"
    if exchange == "bybit" and real.exists():
        return [l for l in real.read_text().splitlines() if l.strip()]
    if exchange == "bithumb":  # no WS candles: trades build them; measure the transaction frame
        text = json.dumps(json.loads((FIX / exchange / "ws_transaction.json").read_text()))
    else:
        text = json.dumps(json.loads((FIX / exchange / "ws_kline_open.json").read_text()))
    if exchange == "bingx":
        return [gzip.compress(text.encode())]
    if exchange == "upbit":
        return [text.encode()]
    return [text]


def rate(fn, frames, seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        for f in frames:
            fn(f)
        n += len(frames)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    add_json_option(ap)
    args = ap.parse_args()
    rows = []
    print("| exchange | frames/s parse+normalise | frames/s json.loads only (same frames) | ratio |")
    print("|---|---|---|---|")
    for name in ("bybit", "binance", "okx", "bitget", "bingx", "upbit", "bithumb"):
        adapter = get_exchange(name)
        frames = frames_for(name)
        assert all(adapter.parse_ws_message(f) for f in frames)
        baseline = (lambda f: json.loads(gzip.decompress(f))) if name == "bingx" else json.loads
        ours = rate(adapter.parse_ws_message, frames, args.seconds)
        base = rate(baseline, frames, args.seconds)
        print(f"| {name} | {ours:,.0f} | {base:,.0f} | {ours / base:.2f} |")
        rows.append(row(f"parse: {name} kline frames/s, parse + normalise (one core)", f"{ours:,.0f}",
                        f"{base:,.0f} (json.loads only)", f"{ours / base:.2f}",
                        goal=">= 100,000/s" if name == "bybit" else None, ours_per_s=ours, baseline_per_s=base))
    print("goal: >= 100,000 Bybit kline frames/s")
    write_json(args.json, "bench_parse", rows, ["goal: >= 100,000 Bybit kline frames/s"])


if __name__ == "__main__":
    main()
