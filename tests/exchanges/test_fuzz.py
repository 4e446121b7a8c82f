"""Mutation fuzzing of every parse_ws_message: only BadMessage, or events that make sense.

10,000 mutated frames per exchange from its recorded and documented frames: truncation, byte flips,
values replaced by wrong types / NaN / huge numbers, keys deleted, and the wrong compression.
"""
import copy
import gzip
import json
import math
import os
import random
import zlib
from pathlib import Path

import pytest

from twinstar_gui.core.models import KlineEvent, SubscriptionAck, TickerEvent, TradeEvent
from twinstar_gui.exchanges import BadMessage, get_exchange

FIX = Path(__file__).resolve().parents[1] / "fixtures"
ALL = ["bybit", "binance", "okx", "bitget", "bingx", "upbit", "bithumb"]
N = int(os.environ.get("TWINSTAR_FUZZ_N", "10000"))
WEIRD = [None, "", "abc", "NaN", "nan", "inf", "-inf", "1e400", -1, -1e308, 1e308, 10 ** 30, [], {}, True, False,
         "-5", "0", 0, 1.5, "  7 ", "9" * 400, [[1, 2]], {"a": 1}]


def seeds(exchange):
    out = []
    for p in sorted((FIX / exchange).iterdir()):
        if p.name.startswith("ws_") and p.name not in ("ws_subscribe.json", "ws_subscribe_transaction.json"):
            if p.suffix == ".jsonl":
                out += [l for l in p.read_text().splitlines() if l.strip() and len(l) < 20_000][:40]
            else:
                out.append(json.dumps(json.loads(p.read_text())))
    return out


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:5]):
            yield from paths(v, prefix + (i,))


def mutate_json(rng, text):
    doc = json.loads(text)
    candidates = [p for p in paths(doc) if p]
    if not candidates:
        return json.dumps(rng.choice(WEIRD))
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(candidates)
        parent = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
            if rng.random() < 0.25 and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = copy.deepcopy(rng.choice(WEIRD))
        except (KeyError, IndexError, TypeError):
            continue
    return json.dumps(doc)


def mutate(rng, exchange, text):
    kind = rng.randrange(6)
    if kind == 0:
        data = text[: rng.randrange(len(text) + 1)]
    elif kind == 1:
        b = bytearray(text.encode())
        for _ in range(rng.randint(1, 4)):
            if b:
                b[rng.randrange(len(b))] = rng.randrange(256)
        data = bytes(b)
    elif kind == 5:  # the wrong compression for this exchange
        data = zlib.compress(text.encode()) if exchange == "bingx" else gzip.compress(text.encode())
        return data
    else:
        data = mutate_json(rng, text)
    if exchange == "bingx":  # its frames are gzipped on the wire
        return gzip.compress(data if isinstance(data, bytes) else data.encode())
    return data


def sane(events):
    for e in events:
        if isinstance(e, KlineEvent):
            vals = (e.open, e.high, e.low, e.close, e.volume)
            assert all(math.isfinite(v) for v in vals), e
            assert e.low <= e.open <= e.high and e.low <= e.close <= e.high and e.volume >= 0, e
            assert isinstance(e.open_time, int) and e.open_time >= 0 and e.closed in (True, False, None)
        elif isinstance(e, (TickerEvent, TradeEvent)):
            assert math.isfinite(e.price) and isinstance(e.time, int), e
        else:
            assert isinstance(e, SubscriptionAck), e


@pytest.mark.parametrize("exchange", ALL)
def test_fuzzed_frames_give_badmessage_or_sane_events(exchange):
    rng = random.Random(f"twinstar-{exchange}-{os.environ.get('TWINSTAR_FUZZ_SEED', '0')}")
    adapter = get_exchange(exchange)
    base = seeds(exchange)
    assert base, f"no seed frames for {exchange}"
    outcomes = {"bad": 0, "events": 0, "empty": 0}
    for _ in range(N):
        frame = mutate(rng, exchange, rng.choice(base))
        try:
            events = adapter.parse_ws_message(frame)
        except BadMessage as exc:
            assert exchange in str(exc)
            outcomes["bad"] += 1
            continue
        sane(events)
        outcomes["events" if events else "empty"] += 1
    # the mutations must actually exercise both the error paths and the happy paths
    assert outcomes["bad"] > N // 10 and outcomes["events"] > N // 20, outcomes
