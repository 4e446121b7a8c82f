"""A simulator in its own process for the benches: a real exchange is another machine, so its work (building
and formatting answers) must not share the measured process's GIL and be counted as ours."""
from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from typing import Any


def _child(conn, make: Callable[..., Any], args: tuple) -> None:
    sim = make(*args)
    exchanges = ("bybit", "binance", "okx", "bitget", "bingx", "upbit", "bithumb")
    conn.send(({x: sim.rest_url(x) for x in exchanges}, {x: sim.ws_url(x) for x in exchanges},
               list(sim.market.symbols), sim.market.now_ms(), sim.market.clock.speed))
    conn.recv()  # until the bench says stop
    sim.stop()


class SimProcess:
    """`make(*args)` (a module-level function, run in a spawned process) returns a started SimThread."""

    def __init__(self, make: Callable[..., Any], *args: Any, start_timeout: float = 60.0) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, theirs = ctx.Pipe()
        self._proc = ctx.Process(target=_child, args=(theirs, make, args), daemon=True)
        self._proc.start()
        if not self._conn.poll(start_timeout):
            self._proc.kill()
            raise RuntimeError("the simulator process did not start")
        self._rest, self._ws, self.symbols, sim_now, self._speed = self._conn.recv()
        self._origin, self._sim_origin = time.monotonic(), sim_now

    def rest_url(self, exchange: str) -> str:
        return self._rest[exchange]

    def ws_url(self, exchange: str) -> str:
        return self._ws[exchange]

    def now_ms(self) -> int:
        """The simulator's clock, followed from here (it runs `speed` x real time from its start)."""
        return self._sim_origin + int((time.monotonic() - self._origin) * self._speed * 1000)

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
