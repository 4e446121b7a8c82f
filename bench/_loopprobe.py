"""Shared by the GUI benches: how late a high-rate timer on the GUI thread fires (event-loop stalls), and a
sampler of what the threads were running while it was late.

A stall of D ms shows as one tick whose interval since the previous tick exceeds the timer's period by between
D - period and D ms (a 2 ms period under-reads a stall by at most 2 ms). p99 is over ticks: one sample per tick,
so a long stall counts once and a quiet loop adds many near-zero samples (a finer period lowers p99).
"""
from __future__ import annotations

import asyncio
import collections
import math
import sys
import threading
import time
from array import array
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer

GOAL_STALL_MS = 16.0  # one frame at 60 Hz


class LagProbe:
    """A PreciseTimer of `tick_ms`; each tick records when it ran (time.monotonic, s) and how late (ms)."""

    def __init__(self, tick_ms: float = 10.0) -> None:
        self.tick_ms = float(tick_ms)
        self.timer = QTimer()
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(max(1, round(self.tick_ms)))
        self.timer.timeout.connect(self._tick)
        self.times = array("d")  # not lists of floats: 16 bytes a tick, the RSS measured meanwhile stays honest
        self.late = array("d")
        self.last = 0.0

    def _tick(self) -> None:
        now = time.monotonic()
        self.late.append(max(0.0, (now - self.last) * 1000.0 - self.tick_ms))
        self.times.append(now)
        self.last = now

    def start(self) -> None:
        self.last = time.monotonic()
        self.timer.start()

    def restart(self) -> None:
        """Forget the time since the last tick (e.g. the window being built before the event loop ran)."""
        self.last = time.monotonic()

    def stop(self) -> None:
        self.timer.stop()

    def clear(self) -> None:
        self.times, self.late = array("d"), array("d")

    def summary(self, t0: float = -math.inf, t1: float = math.inf) -> dict:
        """Figures over the ticks that ran in [t0, t1] (time.monotonic seconds)."""
        times = np.asarray(self.times)
        late = np.asarray(self.late)
        keep = (times >= t0) & (times <= t1)
        times, late = times[keep], late[keep]
        span = float(times[-1] - times[0]) if len(times) > 1 else 0.0
        lag = late if len(late) else np.zeros(1)
        worst = np.argsort(lag)[::-1][:10]
        return {"seconds": span, "tick_ms": self.tick_ms, "ticks": int(len(late)),
                "expected_ticks": int(span * 1000 / self.tick_ms),
                "max_ms": float(lag.max()), "p99_ms": float(np.percentile(lag, 99)),
                "p50_ms": float(np.percentile(lag, 50)), "over_16ms": int((lag > 16).sum()),
                "over_50ms": int((lag > 50).sum()), "over_100ms": int((lag > 100).sum()),
                "stalled_over_16ms_s": float(lag[lag > 16].sum() / 1000),
                "worst": [{"at": float(times[i]), "ms": float(lag[i])} for i in worst if len(late) and lag[i] > 0]}

    async def measure(self, seconds: float) -> dict:
        """Run for `seconds` on the running (qasync) loop and summarise those ticks only."""
        self.clear()
        self.start()
        await asyncio.sleep(seconds)
        self.stop()
        out = self.summary()
        out["seconds"] = seconds
        out["expected_ticks"] = int(seconds * 1000 / self.tick_ms)
        return out


def _frames(frame, depth: int) -> tuple[str, ...]:
    """`file:line:function` of the innermost `depth` frames, innermost first (no source lines read: cheap)."""
    out = []
    while frame is not None and len(out) < depth:
        code = frame.f_code
        out.append(f"{Path(code.co_filename).name}:{frame.f_lineno}:{code.co_name}")
        frame = frame.f_back
    return tuple(out)


class StallSampler:
    """Samples the threads' frames from a daemon thread every `every_s`: only while the probe's next tick is late
    by more than `threshold_ms` (`always=False`), or all the time (`always=True`, a poor man's profiler of the GUI
    thread; each sample says whether the loop was late then). Each sample needs the GIL, so it perturbs a little:
    a debug aid. `samples` = [(time.monotonic, late?, main thread's frames, [other threads' frames])], innermost
    first. The main thread's innermost frame being the event loop's own (`run_forever`) means it was in Qt's C++
    there (painting, layout, event dispatch) or waiting for the GIL."""

    def __init__(self, probe: LagProbe, threshold_ms: float = 30.0, every_s: float = 0.005,
                 main_depth: int = 6, other_depth: int = 3, always: bool = False, stack_depth: int = 48) -> None:
        self.probe, self.threshold_ms, self.every_s = probe, threshold_ms, every_s
        self.main_depth, self.other_depth, self.always, self.stack_depth = main_depth, other_depth, always, stack_depth
        self.samples: list[tuple[float, bool, tuple[str, ...], list[str]]] = []
        self.main = threading.main_thread().ident
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-stall-sampler", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.wait(self.every_s):
            try:
                active = self.probe.timer.isActive()
            except RuntimeError:  # the timer is gone
                return
            now = time.monotonic()
            late = active and (now - self.probe.last) * 1000 - self.probe.tick_ms >= self.threshold_ms
            if not (late or (self.always and active)):
                continue
            frames = sys._current_frames()
            main = _frames(frames.get(self.main), self.stack_depth)
            others = []
            if late:
                names = {t.ident: t.name for t in threading.enumerate()}
                others = [f"{names.get(ident, '?')[:16]}: " + " <- ".join(_frames(frame, self.other_depth))
                          for ident, frame in frames.items() if ident not in (me, self.main)]
            self.samples.append((now, late, main, others))

    @property
    def counts(self) -> collections.Counter:
        """Legacy view: LOOP / thread name: frames -> samples (late ones)."""
        out: collections.Counter = collections.Counter()
        for _t, late, main, others in self.samples:
            if late:
                out["LOOP: " + " <- ".join(main[:self.main_depth])] += 1
                out.update(others)
        return out

    def report(self, top: int = 30) -> None:
        print("\nstall samples (innermost first):")
        for where, n in self.counts.most_common(top):
            print(f"{n:6d}  {where}")

    def attribute(self, probe: LagProbe, t0: float, t1: float, threshold_ms: float = GOAL_STALL_MS,
                  worst: int = 8) -> dict:
        """The stalls (ticks later than `threshold_ms`) in [t0, t1]: the main thread's innermost frames sampled
        during them, the functions most often on its stack then, and for the `worst` longest ones each, what
        was sampled inside it."""
        times, late = np.asarray(probe.times), np.asarray(probe.late)
        pick = np.flatnonzero((times >= t0) & (times <= t1) & (late > threshold_ms))
        spans = sorted(((float(times[i] - (late[i] + probe.tick_ms) / 1000), float(times[i]), float(late[i]))
                        for i in pick), key=lambda s: -s[2])
        ts = np.asarray([s[0] for s in self.samples])
        inner: collections.Counter = collections.Counter()
        others: collections.Counter = collections.Counter()
        stacks: list[tuple[str, ...]] = []
        per: list[dict] = []
        for start, end, ms in spans:
            lo, hi = np.searchsorted(ts, start), np.searchsorted(ts, end, side="right")
            inside = self.samples[lo:hi]
            here = collections.Counter(" <- ".join(s[2][:self.main_depth]) for s in inside)
            inner.update(here)
            stacks += [s[2] for s in inside]
            for s in inside:
                others.update(s[3])
            if len(per) < worst:
                per.append({"ms": ms, "at": end, "samples": len(inside), "main": here.most_common(3)})
        return {"stalls": len(spans), "samples": len(stacks), "main_top": inner.most_common(12),
                "on_stack_top": _inclusive(stacks).most_common(25), "other_threads_top": others.most_common(8),
                "worst": per}

    def profile(self, t0: float, t1: float, top: int = 30) -> dict:
        """Every sample in [t0, t1] (with `always=True`): the share of them each function was on the main
        thread's stack (inclusive) and innermost (exclusive)."""
        stacks = [s[2] for s in self.samples if t0 <= s[0] <= t1]
        n = max(1, len(stacks))
        inclusive = _inclusive(stacks)
        exclusive = collections.Counter(":".join(s[0].split(":")[::2]) if s else "(none)" for s in stacks)
        return {"samples": len(stacks), "inclusive": [(k, v / n) for k, v in inclusive.most_common(top)],
                "exclusive": [(k, v / n) for k, v in exclusive.most_common(top)]}


TRUNK = ("__init__.py:run_forever", "__init__.py:run_until_complete", "app.py:run_gui", "_gui_load.py:")


def _inclusive(stacks: list[tuple[str, ...]]) -> collections.Counter:
    """How many stacks each `file:function` is on (once per stack), leaving out the trunk every stack shares
    (qasync's run_forever, run_gui, the bench script and its wrappers of the product's methods)."""
    out: collections.Counter = collections.Counter()
    for stack in stacks:
        out.update({name for name in (":".join(f.split(":")[::2]) for f in stack) if not name.startswith(TRUNK)})
    return out
