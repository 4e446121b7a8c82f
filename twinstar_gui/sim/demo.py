"""Starting the simulator for `twinstar --demo`, the self-test and `twinstar sim` (blocks until Ctrl-C)."""
from __future__ import annotations

import signal
import threading

from .clock import SimClock
from .market import Market
from .server import SimServer, SimThread


def start_demo_simulator(speed: float = 300.0, seed: int = 7, port: int = 0,
                         push_interval: float = 0.2, trade_port: int = 0, history_days: float = 30) -> SimThread:
    """A simulator on 127.0.0.1 in a background thread: `.rest_url("bybit")`, `.ws_url("bybit")`, `.stop()`.
    `history_days`: how far back its candles go (made lazily: years cost nothing until asked for)."""
    return SimThread(Market(SimClock(speed=speed), seed=seed, history_days=history_days), port=port,
                     push_interval=push_interval, trade_port=trade_port).start()


def add_accounts(server: SimServer, api_key: str, api_secret: str, api_passphrase: str = "",
                 balance: float = 10_000.0) -> list[str]:
    """The same key pair on every venue with a signed trading API (OKX's only with a passphrase): the venues."""
    venues = ["bybit", "binance"] + (["okx"] if api_passphrase else [])
    for venue in venues:
        server.add_account(api_key, api_secret, balance=balance, exchange=venue, passphrase=api_passphrase)
    return venues


def run_simulator_forever(port: int, speed: float = 1.0, seed: int = 7, *, trade_port: int | None = None,
                          api_key: str = "", api_secret: str = "", api_passphrase: str = "",
                          balance: float = 10_000.0, history_days: float = 30) -> int:
    """Serve until SIGINT/SIGTERM; returns the process exit code. Call from the main thread.
    With a key pair, the signed Bybit, Binance and (with a passphrase) OKX trading APIs accept it (an account
    holding `balance` USDT on each)."""
    if trade_port is None:
        trade_port = port + 1 if port else 0
    try:
        sim = start_demo_simulator(speed=speed, seed=seed, port=port, trade_port=trade_port,
                                   history_days=history_days)
    except RuntimeError as exc:
        print(f"twinstar sim: {exc}")
        return 1
    venues = add_accounts(sim.server, api_key, api_secret, api_passphrase, balance) if api_key else []
    print(f"TwinStar simulator on 127.0.0.1:{sim.server.port} (speed x{speed:g}, seed {seed}, "
          f"{history_days:g} days of history)")
    from .server import EXCHANGES

    for name in EXCHANGES:  # each exchange's base URLs: the values of TWINSTAR_<EXCHANGE>_REST_URL / _WS_URL
        print(f"  {name:<8} REST {sim.rest_url(name):<34} WS {sim.ws_url(name)}")
    print("  (point a command at one: TWINSTAR_OKX_REST_URL=<REST> TWINSTAR_OKX_WS_URL=<WS> twinstar symbols "
          "--exchange okx)")
    for venue in ("bybit", "binance", "okx"):
        state = (f"key {api_key[:4]}…, {balance:g} USDT" if venue in venues else
                 "(no key: pass --api-key/--api-secret)" if not api_key else "(no account: pass --api-passphrase)")
        print(f"  {venue:<8} trading API (signed, public REST too): {sim.trade_url(venue)}  {state}")
    print("Ctrl-C to stop.", flush=True)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    from ..stopsignal import early_signal

    if early_signal() is not None:  # it came while the simulator was starting
        stop.set()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


run_cli = run_simulator_forever
