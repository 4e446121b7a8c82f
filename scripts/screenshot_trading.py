"""The demo window with bots at work, for the README (run by scripts/screenshot.sh ... trading, under Xvfb):
starts the AutoScanner and the MultiTrader on the simulated Bybit (paper), shows the Bots tab, waits, and
saves the window's own rendering. Usage: .venv/bin/python scripts/screenshot_trading.py OUT.png SECONDS [EXCHANGE]
(EXCHANGE: where the bots trade, default bybit; SHOT_EXCHANGE in the environment does the same via screenshot.sh)"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QTimer

from twinstar_gui.config import settings_from_dict
from twinstar_gui.gui import run_gui


def main() -> int:
    out, seconds = Path(sys.argv[1]), float(sys.argv[2])
    venue = sys.argv[3] if len(sys.argv) > 3 else os.environ.get("SHOT_EXCHANGE", "bybit")
    data = tempfile.mkdtemp(prefix="twinstar-shot-")
    saved = []

    def ready(window, trading) -> None:
        for flow in ("AutoScanner", "MultiTrader"):
            trading.start_bot(flow, venue, None)
        window.bots_dock.raise_()

        def shoot() -> None:
            saved.append(window.grab().save(str(out)))
            window.close_requested.emit()

        QTimer.singleShot(int(seconds * 1000), shoot)

    rc = run_gui(settings_from_dict({"data_dir": data}), demo=True,
                 exchanges=list(dict.fromkeys([venue, "bybit", "okx"])), quit_after=seconds + 30, on_ready=ready)
    if not saved or not saved[0]:
        print(f"screenshot: could not save {out}", file=sys.stderr)
        return 1
    print(f"screenshot: {out}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
