"""bench_gui.py's `engine` section: the terminal (run_gui, as `twinstar` builds it) streaming the series of a
settings file (350: 7 simulated exchanges x 50), in a process of its own; GUI-loop stalls per phase, frame-to-pixel
latency, RSS.

Run by bench_gui.py as `python bench/_gui_load.py SPEC.json` (SPEC: what _gui_procs.run_engine writes); the figures
go to SPEC["out"] as JSON. Nothing of the product is changed: the hooks below wrap methods of its classes in this
process only.

Frame-to-pixel, the two ends:
- start: the simulator (its own process) is about to write the frame to the WebSocket (websockets'
  `ServerConnection.send`, stamped with time.monotonic() in `make_stamping_sim`). Over loopback that is the frame's
  arrival in the terminal's socket buffer, give or take tens of microseconds; any time it then waits for the GUI
  thread to read the socket counts.
- end: `CandlestickItem.paint()` of the chart returns, having drawn the live candle with that frame's update
  applied (into the window's backing store; there is no compositor after that offscreen).
Frames are matched across the two processes by a digest of their bytes. In between, the terminal side stamps
`WsConnection._on_frame` (the app's receive loop hands the frame to its parser) and the chart presenter's flush
that emitted the update to the view. Only frames that update the charted series count (the other 349 series are
streamed but not drawn); a frame whose forming-candle update was overwritten by a later one before the flush
counts until the paint that shows the newer state.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


def digest(frame: str | bytes) -> str:
    return hashlib.blake2b(frame.encode() if isinstance(frame, str) else bytes(frame), digest_size=8).hexdigest()


def rss_kib(pid: int | str = "self") -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, KiB; {} when it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line[:5]] = int(line.split()[1])
    except OSError:
        pass
    return out


# -- the simulator side (runs in the simulator's process, see bench/_simproc.py) ----------------------------------
def make_stamping_sim(speed: float, stamps_path: str, needles: list[str]):
    """The demo simulator (every exchange, its default market, pushes every 0.2 s), with every WebSocket frame that
    contains one of `needles` logged as `digest monotonic_s` to `stamps_path` just before it is written."""
    from websockets.asyncio.server import ServerConnection

    from twinstar_gui.sim.demo import start_demo_simulator

    out = open(stamps_path, "a", buffering=1, encoding="ascii")  # open for the simulator process's life
    raw_needles = [n.encode() for n in needles]
    send = ServerConnection.send

    async def stamped_send(self, message, *args, **kwargs):
        if isinstance(message, str | bytes | bytearray):
            t = time.monotonic()
            if any(n in message for n in (needles if isinstance(message, str) else raw_needles)):
                out.write(f"{digest(message)} {t:.6f}\n")
        return await send(self, message, *args, **kwargs)

    ServerConnection.send = stamped_send
    return start_demo_simulator(speed=speed, seed=7)


def read_stamps(path: str | Path) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        for line in Path(path).read_text(encoding="ascii").splitlines():
            d, _, t = line.partition(" ")
            if d and t:
                out.setdefault(d, float(t))  # a frame sent twice (it never is) keeps its first time
    except OSError:
        pass
    return out


# -- preparing the data dir and the settings file (in bench_gui.py's process) ------------------------------------
def prepare(sim, data_dir: Path, exchanges: list[str], per_exchange: int,
            path: Path) -> tuple[Path, dict[str, list[str]]]:
    """Each exchange's catalog fetched from the simulator into `data_dir` (the cache a returning user has), the
    first `per_exchange` of DEFAULT_SCAN_BASES resolved through it to unified symbols (as the settings dialog
    stores them), and a settings file at `path` with those symbols and the simulator's URLs (the other exchanges
    disabled). Returns (its path, {exchange: symbols})."""
    from twinstar_gui.data.catalogs import fetch_book
    from twinstar_gui.exchanges.registry import DEFAULT_SCAN_BASES

    data_dir.mkdir(parents=True, exist_ok=True)
    chosen: dict[str, list[str]] = {}
    for name in exchanges:
        book = fetch_book(name, sim.rest_url(name), data_dir)
        if book.error:
            raise RuntimeError(f"{name}: the simulator's instrument list did not load: {book.error}")
        chosen[name] = [book.resolve(base).symbol for base in DEFAULT_SCAN_BASES[:per_exchange]]
    config = {"data_dir": str(data_dir), "exchanges": {
        name: {"enabled": name in chosen, "rest_url": sim.rest_url(name), "ws_url": sim.ws_url(name),
               "symbols": chosen.get(name, [])} for name in _all_exchanges()}}
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    return path, chosen


def _all_exchanges() -> list[str]:
    from twinstar_gui.exchanges.registry import exchange_names

    return exchange_names()


def topic_needles(exchange: str, base: str) -> list[str]:
    """What marks a frame of the `base` series of `exchange` on the wire: its stream topics, quoted as in the JSON
    (the native id by the exchange's naming rule: BTC -> BTCUSDT on Bybit)."""
    from twinstar_gui.core.timeframe import BASE_TIMEFRAME
    from twinstar_gui.exchanges.registry import get_exchange

    adapter = get_exchange(exchange)
    native = adapter.native_symbol(base, adapter.quote_currency)
    topics = [adapter.kline_topic(native, BASE_TIMEFRAME), adapter.ticker_topic(native)]
    return [f'"{t}"' for t in topics if t]


# -- the terminal side (this file run as a script) ------------------------------------------------------------
class FrameTrace:
    """Frames of the charted series from receipt to paint: pending (in the presenter) -> applied (emitted to
    the view) -> samples (painted). Times are time.monotonic() seconds."""

    def __init__(self) -> None:
        self.current: str | bytes | None = None
        self.recv = 0.0
        self.hit = False
        self.frames = 0
        self.pending: list[tuple[float, str]] = []
        self.applied: list[tuple[float, str, float]] = []
        self.samples: list[tuple[float, str, float, float]] = []  # recv, digest, flushed, painted
        self.presenter = None
        self.paints = 0
        self.loaded: dict[tuple[str, str], float] = {}  # (exchange, symbol) -> end of its first REST catch-up

    def install(self) -> None:
        """Frames arrive and reach the shown series' tap on the market engine's thread; the presenter takes what
        waits there and shows it on the GUI thread; the candle item paints it."""
        from twinstar_gui.data.manager import SeriesManager
        from twinstar_gui.data.tap import SeriesTap
        from twinstar_gui.net.ws import WsConnection
        from twinstar_gui.presenters.chart import ChartPresenter
        from twinstar_gui.ui.chart.candle_item import CandlestickItem

        trace = self
        lock = threading.Lock()
        on_frame, init = WsConnection._on_frame, ChartPresenter.__init__
        on_forming, on_closed, take = SeriesTap._on_forming, SeriesTap._on_closed, SeriesTap.take
        show = ChartPresenter._show
        paint = CandlestickItem.paint
        run_backfill = SeriesManager._run_backfill
        taken: list[tuple[float, str]] = []  # taken from the tap by the presenter, not yet shown

        async def _run_backfill(self):
            await run_backfill(self)  # its history is in (or the exchange rejected the symbol): stage ready/failed
            trace.loaded.setdefault((self.exchange, self.symbol), time.monotonic())

        def _on_frame(self, raw, ws=None):
            trace.current, trace.recv, trace.hit = raw, time.monotonic(), False
            trace.frames += 1
            try:
                on_frame(self, raw, ws)
            finally:
                trace.current = None

        def _hit(tap) -> None:
            """The frame being handled has reached the shown series' tap (stamped after the tap holds the change:
            a take in between counts it with the next take, never with an earlier one)."""
            if trace.current is not None and not trace.hit and _shown(tap):
                trace.hit = True
                with lock:
                    trace.pending.append((trace.recv, digest(trace.current)))

        def __init__(self, *args, **kwargs):  # noqa: N807
            init(self, *args, **kwargs)
            trace.presenter = self

        def _shown(tap) -> bool:
            return trace.presenter is not None and tap is trace.presenter._tap

        def _on_forming(self, key, candle):
            on_forming(self, key, candle)
            _hit(self)

        def _on_closed(self, ev):
            on_closed(self, ev)
            if ev.timeframe is self.tf:
                _hit(self)

        def _take(self):
            with lock:  # what reached the tap before this take is in it
                before = len(trace.pending) if _shown(self) else 0
            update = take(self)
            if before:
                with lock:
                    taken.extend(trace.pending[:before])
                    del trace.pending[:before]
            return update

        def _show(self, update):
            show(self, update)
            if taken:
                t = time.monotonic()
                trace.applied += [(r, d, t) for r, d in taken]
                taken.clear()

        def _paint(self, p, *args):
            paint(self, p, *args)
            trace.paints += 1
            if trace.applied and self.last_painted:
                vb = self.getViewBox()
                x = self.x_values()
                if len(x) and (vb is None or vb.viewRange()[0][1] >= x[-1]):  # the live candle is on screen
                    t = time.monotonic()
                    trace.samples += [(r, d, f, t) for r, d, f in trace.applied]
                    trace.applied.clear()

        SeriesManager._run_backfill = _run_backfill
        WsConnection._on_frame = _on_frame
        ChartPresenter.__init__ = __init__
        SeriesTap._on_forming, SeriesTap._on_closed, SeriesTap.take = _on_forming, _on_closed, _take
        ChartPresenter._show = _show
        CandlestickItem.paint = _paint


class GcPauses:
    """Every garbage collection of this process, whichever thread triggered it: (start, duration s, generation,
    thread name). The collector stops every thread that wants the GIL for its whole run, so a long one is a stall
    of the GUI thread even when the engine's thread triggered it."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float, int, str]] = []
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.monotonic()
        else:
            self.pauses.append((self._t0, time.monotonic() - self._t0, info.get("generation", -1),
                                threading.current_thread().name))

    def summary(self, t0: float, t1: float) -> dict:
        ps = [p for p in self.pauses if t0 <= p[0] < t1]
        by_gen: dict = {}
        for _t, d, g, _n in ps:
            e = by_gen.setdefault(str(g), {"n": 0, "total_ms": 0.0, "max_ms": 0.0})
            e["n"] += 1
            e["total_ms"] += d * 1000
            e["max_ms"] = max(e["max_ms"], d * 1000)
        long = sorted(ps, key=lambda p: -p[1])[:10]
        return {"by_generation": by_gen, "longest": [(round(d * 1000, 1), g, n) for _t, d, g, n in long]}


class Phases:
    """Polls the series (10 Hz): start-up ends when every series has finished its first REST catch-up (its
    history is loaded, or the exchange rejected the symbol; later catch-ups, e.g. the REST confirmation of each
    close on exchanges without a close flag, do not count); the steady phase follows for `steady_s`, then
    `finish()` is called (it writes the figures) and the process sends itself SIGTERM: the app's clean shutdown,
    as for a kill or Ctrl-C (closing the window would ask about candles not on disk yet, and nobody answers)."""

    def __init__(self, trace: FrameTrace, probe, steady_s: float, backfill_timeout: float,
                 finish: Callable[[], None], name: str = "engine") -> None:
        self.trace, self.probe, self.name, self.finish = trace, probe, name, finish
        self.steady_s, self.backfill_timeout = steady_s, backfill_timeout
        self.t_start: float | None = None
        self.t_loaded: float | None = None
        self.t_end: float | None = None
        self.timed_out = False
        self.rss: list[tuple[float, int]] = []
        self.rss_end: dict[str, int] = {}
        self.end_state: dict = {}
        self.loading: dict = {}
        self._last_rss = 0.0
        self.t_stop: float | None = None

    def loop_started(self) -> None:
        self.t_start = time.monotonic()
        self.probe.restart()
        print(f"  {self.name}: event loop running; start-up backfill of every series", flush=True)

    def watch(self) -> None:
        now = time.monotonic()
        if now - self._last_rss >= 1.0:
            self._last_rss = now
            self.rss.append((now, rss_kib().get("VmRSS", 0)))
        presenter = self.trace.presenter
        if self.t_start is None or presenter is None or self.t_end is not None:
            return
        series = [s for f in presenter.feeds.values() for s in list(f.series.values())]
        if self.t_loaded is None:
            loaded = self.trace.loaded
            waiting = [s for s in series if (s.exchange, s.symbol) not in loaded]
            if not waiting or now - self.t_start > self.backfill_timeout:
                self.t_loaded, self.timed_out = now, bool(waiting)
                self.loading = {"waiting": [f"{s.exchange}:{s.symbol} ({s.sync.stage})" for s in waiting],
                                "exchange_loaded_s": {
                                    name: max((loaded.get((name, sym), now) for sym in f.series), default=0)
                                    - self.t_start for name, f in presenter.feeds.items()}}
                print(f"  {self.name}: {len(series) - len(waiting)}/{len(series)} series loaded after "
                      f"{now - self.t_start:.1f} s" + (" (TIMED OUT)" if waiting else "")
                      + f"; steady streaming for {self.steady_s:g} s", flush=True)
            return
        if now >= self.t_loaded + self.steady_s:
            self.t_end = now
            self.rss_end = rss_kib()
            feeds = presenter.feeds
            self.end_state = {
                "series": len(series), "failed": [f"{s.exchange}:{s.symbol}" for s in series if s.failed],
                "closed_candles": sum(s.closed_emitted for s in series),
                "connections": {name: [h.state.value for h in f.health()] for name, f in feeds.items()},
                "charted": [presenter.exchange, presenter.symbol, presenter.tf.label],
                "chart_flushes": presenter.flushes}
            self.finish()
            self.t_stop = time.monotonic()
            os.kill(os.getpid(), signal.SIGTERM)


def _phase_samples(samples, t0: float, t1: float) -> list:
    return [s for s in samples if t0 <= s[0] < t1]


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    os.environ.setdefault("QT_API", "pyside6")
    import logging

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from twinstar_gui.config import load_settings
    from twinstar_gui.gui import run_gui

    from _loopprobe import LagProbe, StallSampler  # bench/ is sys.path[0]: this file is run as a script

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _qapp = QApplication.instance() or QApplication(["twinstar"])  # run_gui takes this one
    probe = LagProbe(spec["tick_ms"])
    # baseline: this process's Qt event loop with the probe alone, before anything of the app exists
    probe.start()
    idle = QEventLoop()
    QTimer.singleShot(int(spec["baseline_s"] * 1000), idle.quit)
    idle.exec()
    probe.stop()
    baseline = probe.summary()
    probe.clear()

    trace = FrameTrace()
    trace.install()
    import gc

    gc_pauses = GcPauses()
    gc.callbacks.append(gc_pauses)
    sampler = (StallSampler(probe, threshold_ms=spec["sample_threshold_ms"], every_s=0.004, always=True)
               if spec["sample"] else None)
    out: dict = {}

    def finish() -> None:
        """The figures, written before the app shuts down (a shutdown that hangs loses none of them)."""
        t_start, t_loaded, t_end = phases.t_start, phases.t_loaded, phases.t_end
        out.update({"rc": None, "t_start": t_start, "t_loaded": t_loaded, "t_end": t_end,
                    "baseline_idle_loop": baseline, "backfill_s": t_loaded - t_start,
                    "timed_out": phases.timed_out, "steady_s": t_end - t_loaded,
                    "startup": probe.summary(t_start, t_loaded), "steady": probe.summary(t_loaded, t_end),
                    "rss_end_kib": phases.rss_end,
                    "rss_peak_during_run_kib": max((r for _t, r in phases.rss), default=0), **phases.end_state,
                    "loading": phases.loading,
                    "gc": {"startup": gc_pauses.summary(t_start, t_loaded),
                           "steady": gc_pauses.summary(t_loaded, t_end)},
                    "frames_received": trace.frames, "candle_paints": trace.paints,
                    "frame_samples": {"startup": _phase_samples(trace.samples, t_start, t_loaded),
                                      "steady": _phase_samples(trace.samples, t_loaded, t_end)}})
        if sampler is not None:
            out["stall_samples"] = {"startup": sampler.attribute(probe, t_start, t_loaded),
                                    "steady": sampler.attribute(probe, t_loaded, t_end)}
            out["gui_thread_profile"] = {"startup": sampler.profile(t_start, t_loaded),
                                         "steady": sampler.profile(t_loaded, t_end)}
            sampler.stop()
        Path(spec["out"]).write_text(json.dumps(out), encoding="utf-8")

    phases = Phases(trace, probe, spec["steady_s"], spec["backfill_timeout"], finish, spec.get("name", "engine"))
    probe.start()
    QTimer.singleShot(0, phases.loop_started)
    watcher = QTimer()
    watcher.setInterval(100)
    watcher.timeout.connect(phases.watch)
    watcher.start()
    rc = run_gui(load_settings(spec["config"]))
    watcher.stop()
    probe.stop()
    if not out:
        print(f"  {spec.get('name', 'engine')}: the app stopped (rc {rc}) before the steady phase ended", flush=True)
        return 1
    out.update(rc=rc, shutdown_s=time.monotonic() - phases.t_stop)
    Path(spec["out"]).write_text(json.dumps(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
