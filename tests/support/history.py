"""Candle history downloaded from the simulator into a real Parquet dataset (the backtest and optimizer tests'
data): what `twinstar download` does, for the symbols asked."""
import time
from pathlib import Path

from twinstar_gui.data.download import Downloader
from twinstar_gui.data.store import CandleStore
from twinstar_gui.exchanges.registry import get_exchange
from twinstar_gui.net.rest import RestClient
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import DAY_MS, Market
from twinstar_gui.sim.server import SimThread


def download_history(root: Path, symbols: dict[str, list[str]], days: int = 20) -> int:
    """The last `days` whole UTC days of each exchange's symbols, into `root`; the first day's start (ms)."""
    sim = SimThread(Market(SimClock(speed=1.0), seed=21, history_days=days + 10)).start()
    now = int(time.time() * 1000)
    start = now - now % DAY_MS - days * DAY_MS
    try:
        for name, wanted in symbols.items():
            rest = RestClient(get_exchange(name, rest_url=sim.rest_url(name)))
            d = Downloader(name, rest, CandleStore(root))
            for sym in wanted:
                assert d.symbol(sym, start, now - now % DAY_MS - 1).complete
            d.store.close()
            rest.close()
    finally:
        sim.stop()
    return start
