"""Start-up imports: the window's start-up modules and the headless collector import neither pandas, pyarrow's dataset
layer, ccxt, keyring nor distributed; those load where they are used (a frame for the chart or a bot, a multi-month
scan, a live order, an API key, `optimize --cluster`). Each check runs in a fresh interpreter and names the import
chain of a module that got in."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "pyarrow.dataset", "ccxt", "keyring", "distributed")

# what `twinstar` imports before the window paints its first chart (gui.run_gui imports presenters and ui/ inside)
GUI_START = ["twinstar_gui.cli", "twinstar_gui.gui", "twinstar_gui.config", "twinstar_gui.wiring",
             "twinstar_gui.trading_stack", "twinstar_gui.exchanges.registry", "twinstar_gui.exchanges",
             "twinstar_gui.presenters.health", "twinstar_gui.presenters.log", "twinstar_gui.presenters.settings",
             "twinstar_gui.presenters.trading", "twinstar_gui.data.feed", "twinstar_gui.data.manager",
             "twinstar_gui.data.store", "twinstar_gui.data.writer", "twinstar_gui.data.catalogs",
             "twinstar_gui.net.rest", "twinstar_gui.net.hub", "twinstar_gui.core.strategy",
             "twinstar_gui.core.resample", "twinstar_gui.bots.market", "twinstar_gui.secrets",
             "twinstar_gui.execution.live", "twinstar_gui.presenters.chart", "twinstar_gui.ui.main_window",
             "twinstar_gui.ui.panels.chart_panel", "twinstar_gui.data.engine", "twinstar_gui.data.tap",
             "twinstar_gui.live_settings", "twinstar_gui.ui.settings_dialog"]
COLLECTOR = ["twinstar_gui.collector"]

PROBE = """
import importlib, json, sys, traceback

heavy = set(sys.argv[1].split(","))
chains = {}

class Watch:
    # records who imports a heavy module first (the frames of ours on the stack), then lets the import go on
    def find_spec(self, name, path=None, target=None):
        if name in heavy and name not in chains:
            chains[name] = [f"{f.filename.rsplit('twinstar_gui', 1)[-1]}:{f.lineno}" for f in traceback.extract_stack()
                            if "twinstar_gui" in f.filename]
        return None

sys.meta_path.insert(0, Watch())
for module in sys.argv[2:]:
    importlib.import_module(module)
print(json.dumps({name: chains.get(name, []) for name in sorted(heavy) if name in sys.modules}))
"""


def loaded_heavy(modules: list[str]) -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE, ",".join(HEAVY), *modules], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("modules", [GUI_START, COLLECTOR], ids=["gui-start", "collector"])
def test_start_up_imports_no_heavy_library(modules):
    got = loaded_heavy(modules)
    assert got == {}, "imported at start-up (first import chain in our code): " + "; ".join(
        f"{name} via {' -> '.join(chain) or 'a third-party module'}" for name, chain in got.items())


def test_the_probe_sees_a_heavy_import():
    got = loaded_heavy(["twinstar_gui.data.store", "pandas"])
    assert list(got) == ["pandas"]
