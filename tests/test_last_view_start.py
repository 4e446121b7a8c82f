"""`twinstar` from outside, twice, against the simulator: the first run keeps the chart's series at shutdown; the
second paints it before the market data and trading back end is imported (the window on screen in about the time
Qt and pyqtgraph take to load), then streams on."""
import json
import os
import subprocess
import sys

from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread
from twinstar_gui.ui.last_view import load_last_view

BACK_END = ["twinstar_gui.wiring", "twinstar_gui.data.engine", "twinstar_gui.data.feed", "twinstar_gui.net.ws",
            "twinstar_gui.trading_stack", "twinstar_gui.execution.paper", "websockets", "requests", "pyarrow",
            "asyncio"]

PROBE = """
import json, sys
import twinstar_gui.entry as entry
from twinstar_gui.ui.chart.candle_item import CandlestickItem

paint, seen = CandlestickItem.paint, []

def first_paint(self, p, *args):
    paint(self, p, *args)
    if self.last_painted and not seen:
        seen.append(1)
        print("FIRST-PAINT " + json.dumps({"candles": len(self),
                                           "loaded": [m for m in BACK_END if m in sys.modules]}), flush=True)

CandlestickItem.paint = first_paint
sys.argv = ["twinstar", *sys.argv[1:]]
sys.exit(entry.main())
"""


def _run(args, env, probe=False):
    code = [sys.executable, "-c", f"BACK_END = {BACK_END!r}\n{PROBE}"] if probe else [sys.executable, "-m",
                                                                                     "twinstar_gui"]
    return subprocess.run([*code, *args], capture_output=True, text=True, timeout=120, env=env)


def test_the_next_start_paints_the_last_series_before_the_back_end_is_imported(tmp_path):
    sim = SimThread(Market(SimClock(speed=1.0), seed=6, history_days=12)).start()
    try:
        config = tmp_path / "settings.json"
        config.write_text(json.dumps({"data_dir": str(tmp_path / "data"), "exchanges": {
            name: {"enabled": name == "okx", "rest_url": sim.rest_url(name), "ws_url": sim.ws_url(name),
                   "symbols": ["ETH/USDT:USDT"] if name == "okx" else []}
            for name in ("bybit", "okx")}}))
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TWINSTAR_CONFIG": str(tmp_path / "none.json"),
               "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
        first = _run(["--config", str(config), "--quit-after", "8"], env)
        assert first.returncode == 0, first.stderr[-3000:]
        view = load_last_view(tmp_path / "data")
        assert view is not None, first.stderr[-3000:]
        assert (view.exchange, view.symbol, view.unified, view.timeframe) == (
            "okx", "ETH-USDT-SWAP", "ETH/USDT:USDT", "15m")
        assert len(view.rows) > 500 and (view.rows[:, 0] % 900_000 == 0).all()

        second = _run(["--config", str(config), "--quit-after", "6"], env, probe=True)
        assert second.returncode == 0, second.stderr[-3000:]
        line = next((ln for ln in second.stdout.splitlines() if ln.startswith("FIRST-PAINT ")), None)
        assert line is not None, second.stdout[-2000:] + second.stderr[-2000:]
        painted = json.loads(line.split(" ", 1)[1])
        assert painted["loaded"] == [] and painted["candles"] == len(view.rows)
        assert "first candles on screen" in second.stderr  # and the back end came up and streamed after it
        again = load_last_view(tmp_path / "data")
        assert again is not None and again.rows[-1, 0] >= view.rows[-1, 0]
    finally:
        sim.stop()
