"""One place per exchange: the registry's entry is what the rest of the product reads (settings, the settings
dialog's key fields, the live executor, the simulator, the demo); nothing keeps its own list of exchanges."""
import ast
from pathlib import Path

from twinstar_gui.config import DEFAULT_SYMBOLS, PASSPHRASE_EXCHANGES, settings_from_dict
from twinstar_gui.exchanges.registry import VENUES, venue
from twinstar_gui.execution.live import CCXT_IDS
from twinstar_gui.sim.server import EXCHANGES as SIMULATED

PACKAGE = Path(__file__).resolve().parents[1] / "twinstar_gui"


def test_every_venue_has_its_simulator_module_and_settings():
    assert list(SIMULATED) == list(VENUES)  # a simulator module per registry entry, nothing more
    assert list(settings_from_dict({}).exchanges) == list(VENUES)
    assert {n: v.default_symbols for n, v in VENUES.items()} == DEFAULT_SYMBOLS
    assert {n: v.ccxt_id for n, v in VENUES.items()} == CCXT_IDS
    assert PASSPHRASE_EXCHANGES == {"okx", "bitget"} == {n for n, v in VENUES.items() if v.needs_passphrase}
    assert venue(" OKX ").name == "okx"


def test_no_module_outside_the_registry_lists_exchange_names():
    """A literal holding two or more exchange names outside exchanges/ and sim/ is a second list to keep."""
    names = set(VENUES)
    found = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("exchanges", "sim"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                items = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            elif isinstance(node, ast.Dict):
                items = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            else:
                continue
            if len(items & names) >= 2:
                found.append(f"{rel}:{node.lineno}")
    assert not found, found
