"""The import direction of STYLE.md: ui -> presenters -> (bots, execution, data, net) -> exchanges -> core."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "twinstar_gui"

# layer -> packages of ours it must not import
FORBIDDEN = {
    "core": {"exchanges", "net", "data", "sim", "presenters", "ui", "app", "config", "cli", "bots", "execution"},
    "exchanges": {"net", "data", "sim", "presenters", "ui", "app", "cli", "bots", "execution"},
    "net": {"data", "sim", "presenters", "ui", "app", "cli", "bots", "execution"},
    "data": {"sim", "presenters", "ui", "app", "cli", "bots", "execution"},
    "sim": {"data", "net", "presenters", "ui", "app", "cli", "bots", "execution"},
    "execution": {"sim", "presenters", "ui", "app", "cli", "bots", "config"},
    "bots": {"sim", "presenters", "ui", "app", "cli", "config"},
    "presenters": {"ui", "app", "cli"},
    "ui": {"net", "exchanges", "app", "cli"},
}
NO_WIDGETS = {"core", "exchanges", "net", "data", "sim", "presenters", "bots", "execution"}
NO_QT = {"core", "exchanges", "net", "data", "sim", "collector", "bots", "execution", "botcli", "headless"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    rel = path.relative_to(PKG).parts
    out = set()
    for node in ast.walk(tree):
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
    assert problems == []


def test_the_checker_sees_a_violation(tmp_path):
    # guard against a checker that can never fail
    assert "ours:ui" in imports_of(PKG / "app.py") or "ours:presenters" in imports_of(PKG / "selftest.py")
    assert "ours:core" in imports_of(PKG / "exchanges" / "bybit.py")
