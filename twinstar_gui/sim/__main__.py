"""`python -m twinstar_gui.sim [--port N] [--speed X] [--seed S]`: the simulator alone, until Ctrl-C."""
from __future__ import annotations

import argparse
import logging
import sys

from .demo import run_simulator_forever


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m twinstar_gui.sim", description=__doc__)
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument("--seed", type=int, default=7, help="random seed of the market")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535 or not args.speed > 0:
        p.error("--port must be 0..65535 and --speed > 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_simulator_forever(args.port, args.speed, args.seed)


if __name__ == "__main__":
    sys.exit(main())
