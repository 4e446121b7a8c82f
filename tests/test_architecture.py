"""The import direction of STYLE.md: ui -> presenters -> (bots, execution, data, net) -> exchanges -> core; config
below the engine; the headless commands without the window (gui.py) or a widget toolkit."""
import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "twinstar_gui"

# the composition modules above every layer: wiring (headless core), live_settings (settings applied to it),
# trading_stack (bots + executor), gui (window)
TOP = {"gui", "wiring", "live_settings", "trading_stack", "cli", "research"}
# layer -> packages of ours it must not import
FORBIDDEN = {
    "core": {"exchanges", "net", "data", "sim", "presenters", "ui", "config", "bots", "execution"} | TOP,
    "exchanges": {"net", "data", "sim", "presenters", "ui", "bots", "execution"} | TOP,
    "net": {"data", "sim", "presenters", "ui", "bots", "execution"} | TOP,
    "data": {"sim", "presenters", "ui", "bots", "execution"} | TOP,
    "sim": {"data", "net", "presenters", "ui", "bots", "execution"} | TOP,
    "execution": {"sim", "presenters", "ui", "bots", "config"} | TOP,
    "bots": {"sim", "presenters", "ui", "config"} | TOP,
    "presenters": {"ui"} | TOP,
    "ui": {"net", "exchanges"} | TOP,
    "wiring": {"sim", "presenters", "ui", "bots", "execution", "gui", "trading_stack", "cli", "live_settings"},
    "live_settings": {"sim", "presenters", "ui", "bots", "execution", "gui", "trading_stack", "cli"},
    "trading_stack": {"sim", "presenters", "ui", "gui", "cli"},
}
NO_WIDGETS = {"core", "exchanges", "net", "data", "sim", "presenters", "bots", "execution", "wiring", "trading_stack"}
# settings sit low: config reads the registry and domain types, never the engine, executors or bots above them
# (files: the atomic write helper, which imports nothing of ours)
CONFIG_MAY_IMPORT = {"core", "exchanges", "files"}
# the headless commands (cli.py: see the test below)
CLIS = {"collector", "botcli", "ordercli", "downloadcli", "backtestcli", "optimizecli",
        "symbolscli", "selftest", "headless", "cliargs"}
NO_QT = {"core", "exchanges", "net", "data", "sim", "collector", "bots", "execution", "botcli", "ordercli",
         "downloadcli", "backtestcli", "optimizecli", "research", "headless",
         "wiring", "live_settings", "trading_stack"}


def imports_of(path: Path, module_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    rel = path.relative_to(PKG).parts
    out = set()
    for node in (tree.body if module_level_only else ast.walk(tree)):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve to a top-level package of ours
                base = list(rel[:-1])[: len(rel) - 1 - (node.level - 1)]
                target = (base + (node.module.split(".") if node.module else []))
                out.add("ours:" + (target[0] if target else ""))
            elif node.module:
                out.add(node.module)
                if node.module.startswith("twinstar_gui."):
                    out.add("ours:" + node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_layers_import_only_downwards():
    problems = []
    for path in PKG.rglob("*.py"):
        layer = path.relative_to(PKG).parts[0].removesuffix(".py")
        imps = imports_of(path)
        for bad in FORBIDDEN.get(layer, ()):
            if f"ours:{bad}" in imps:
                problems.append(f"{path.relative_to(PKG)} imports {bad}")
        if layer in NO_WIDGETS and any(i.startswith("PySide6.QtWidgets") or i == "pyqtgraph" for i in imps):
            problems.append(f"{path.relative_to(PKG)} imports widgets")
        if layer in NO_QT and any(i.startswith("PySide6") or i == "qasync" for i in imps):
            problems.append(f"{path.relative_to(PKG)} imports Qt")
        if layer == "config":
            problems += [f"config imports {i[5:]}" for i in imps
                         if i.startswith("ours:") and i[5:] not in CONFIG_MAY_IMPORT]
        if layer not in ("gui", "cli") and "ours:gui" in imps:
            problems.append(f"{path.relative_to(PKG)} imports the window (gui)")
    assert problems == []


def test_the_command_line_tools_do_not_import_the_window():
    """The headless commands build on wiring/trading_stack; only `twinstar` with no command (cli.py, inside the
    function that runs it) imports the window. Importing a command loads no widget toolkit."""
    for name in CLIS:
        assert "ours:gui" not in imports_of(PKG / f"{name}.py"), name
    assert "ours:gui" not in imports_of(PKG / "cli.py", module_level_only=True)
    modules = ", ".join(f"twinstar_gui.{n}" for n in sorted(CLIS | {"cli"}))
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {modules}; print(sorted(m for m in sys.modules if m in "
                               "('twinstar_gui.gui', 'PySide6.QtWidgets', 'pyqtgraph', 'qasync')))"],
        capture_output=True, text=True, check=True, cwd=PKG.parent).stdout.strip()
    assert loaded == "[]"


def test_the_checker_sees_a_violation(tmp_path):
    # guard against a checker that can never fail
    assert "ours:ui" in imports_of(PKG / "gui.py") or "ours:presenters" in imports_of(PKG / "selftest.py")
    assert "ours:core" in imports_of(PKG / "exchanges" / "bybit.py")
    assert "ours:core" in imports_of(PKG / "config.py")
    assert "ours:gui" in imports_of(PKG / "cli.py")  # inside a function: what module_level_only leaves out
