"""`twinstar` command line: GUI (default), --demo, --self-test, `sim` (standalone simulator)."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from . import __version__
from .cliargs import SECONDS, SPEED, number, symbol_list
from .stopsignal import stoppable


def _gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twinstar", description="TwinStar crypto trading terminal.",
                                epilog="Other commands: `twinstar sim --port N [--speed X] [--seed S]`, "
                                       "`twinstar collect --exchange E --symbols A,B [--data DIR]`, "
                                       "`twinstar symbols --exchange E [--search TEXT]`, "
                                       "`twinstar bot unified|scanner|multi --exchange E [--symbols ...] "
                                       "[--paper|--live]`, "
                                       "`twinstar order buy|sell --exchange E --symbol S --qty Q|--notional N "
                                       "[--price P] ...`, `twinstar orders --exchange E [--cancel ID|--cancel-all]`, "
                                       "`twinstar download --exchange E --symbols A,B|top:N --since YYYY-MM-DD`, "
                                       "`twinstar backtest --flow unified|scanner|multi --exchange E --from D --to D`, "
                                       "`twinstar optimize --exchange E --from D --to D [--cluster tcp://H:P]`.")
    p.add_argument("--demo", action="store_true", help="run offline against the built-in exchange simulator")
    p.add_argument("--self-test", action="store_true", help="offscreen smoke test of the whole app; exit 0 if fine")
    p.add_argument("--exchanges", help="comma-separated exchanges to run (default: the enabled ones; in the demo, "
                                        "every simulated one)")
    p.add_argument("--symbols", type=symbol_list,
                   help="comma-separated symbols for the first exchange (default: settings file)")
    p.add_argument("--config", help="settings file (default: the platform's config dir)")
    p.add_argument("--data-dir", metavar="DIR", help="candle data directory (default: TWINSTAR_DATA_DIR, the "
                                                     "settings file's data_dir, or the platform's data dir)")
    p.add_argument("--speed", type=SPEED, default=300.0,
                   help="demo time acceleration (default 300: a 15m candle every 3 s)")
    p.add_argument("--seed", type=int, default=7, help="demo market seed")
    p.add_argument("--quit-after", type=SECONDS, help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"twinstar {__version__}")
    return p


def _sim_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twinstar sim", description="Local exchange simulator (REST + WS on one port).")
    p.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--speed", type=SPEED, default=1.0, help="time acceleration factor")
    p.add_argument("--seed", type=int, default=7, help="price process seed")
    p.add_argument("--trade-port", type=int, help="port of the signed trading API (default: --port + 1)")
    p.add_argument("--api-key", default="", help="API key the simulated Bybit, Binance and OKX accounts accept")
    p.add_argument("--api-secret", default="", help="its secret (HMAC-SHA256 signatures are checked)")
    p.add_argument("--api-passphrase", default="", help="OKX's passphrase (without it, no OKX account)")
    p.add_argument("--balance", type=number(0.0, 1e12), default=10_000.0,
                   help="USDT in the simulated account (default 10000)")
    p.add_argument("--history-days", type=number(1.0, 3650.0), default=30.0,
                   help="days of candle history before now (default 30; e.g. 730 to try download, backtest and "
                        "optimize offline; made lazily, so start-up stays fast)")
    return p


def _collect_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twinstar collect",
                                description="Headless collector: live 15m candles into the Parquet dataset.")
    p.add_argument("--exchange", required=True, help="exchange name(s), comma-separated")
    p.add_argument("--symbols", help="comma-separated native symbols, or top:N for the N with the largest 24 h "
                                     "quote volume on each exchange (default: settings file)")
    p.add_argument("--shard", metavar="I/N", help="collect only shard I of N (1..N) of the symbols, so N "
                                                  "processes or machines share one dataset tree")
    p.add_argument("--data", help="data directory (default: TWINSTAR_DATA_DIR or the platform's)")
    p.add_argument("--config", help="settings file")
    p.add_argument("--health-every", type=SECONDS, default=5.0, help="seconds between health lines (default 5)")
    p.add_argument("--duration", type=SECONDS, help="stop after this many seconds (default: until SIGINT/SIGTERM)")
    return p


def _collect(argv: list[str]) -> int:
    from .config import SettingsError, load_settings
    from .exchanges.registry import exchange_names

    args = _collect_parser().parse_args(argv)
    names = [e.strip().lower() for e in args.exchange.split(",") if e.strip()]
    bad = [e for e in names if e not in exchange_names()]
    if bad or not names:
        print(f"twinstar collect: unknown exchange(s) {', '.join(bad) or '(none)'}; "
              f"valid: {', '.join(exchange_names())}", file=sys.stderr)
        return 2
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"twinstar collect: {exc}", file=sys.stderr)
        return 2
    from .collector import UsageError, data_dir_setting, parse_shard, parse_symbols, run_collector

    try:
        symbols = parse_symbols(args.symbols)
        shard = parse_shard(args.shard)
    except UsageError as exc:
        print(f"twinstar collect: {exc}", file=sys.stderr)
        return 2
    return run_collector(data_dir_setting(settings, args.data), names, symbols, health_every=args.health_every,
                         duration=args.duration, shard=shard)


def main(argv: list[str] | None = None) -> int:
    return stoppable(lambda: run_command(argv))


def run_command(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if argv[:1] == ["collect"]:
        return _collect(argv[1:])
    if argv[:1] == ["symbols"]:
        from .symbolscli import main as symbols_main

        return symbols_main(argv[1:])
    if argv[:1] == ["optimize"]:
        from .optimizecli import main as optimize_main

        return optimize_main(argv[1:])
    if argv[:1] == ["backtest"]:
        from .backtestcli import main as backtest_main

        return backtest_main(argv[1:])
    if argv[:1] == ["download"]:
        from .downloadcli import main as download_main

        return download_main(argv[1:])
    if argv[:1] == ["bot"]:
        from .botcli import main as bot_main

        return bot_main(argv[1:])
    if argv[:1] == ["order"]:
        from .ordercli import order_main

        return order_main(argv[1:])
    if argv[:1] == ["orders"]:
        from .ordercli import orders_main

        return orders_main(argv[1:])
    if argv[:1] == ["sim"]:
        args = _sim_parser().parse_args(argv[1:])
        if not 0 <= args.port <= 65535 or not 0 <= (args.trade_port or 0) <= 65535:
            print("twinstar sim: --port and --trade-port must be 0..65535", file=sys.stderr)
            return 2
        if bool(args.api_key) != bool(args.api_secret):
            print("twinstar sim: --api-key and --api-secret go together", file=sys.stderr)
            return 2
        if args.api_passphrase and not args.api_key:
            print("twinstar sim: --api-passphrase needs --api-key and --api-secret", file=sys.stderr)
            return 2
        from .sim.demo import run_simulator_forever

        return run_simulator_forever(port=args.port, speed=args.speed, seed=args.seed, trade_port=args.trade_port,
                                     api_key=args.api_key, api_secret=args.api_secret,
                                     api_passphrase=args.api_passphrase, balance=args.balance,
                                     history_days=args.history_days)
    args = _gui_parser().parse_args(argv)
    if args.verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    if args.self_test:
        from .selftest import run_self_test

        return run_self_test(config=args.config)
    if args.data_dir is not None:
        if not args.data_dir.strip():
            print("twinstar: --data-dir must not be empty", file=sys.stderr)
            return 2
        # The same override as the environment variable (config.py reads it), so the demo uses it too.
        os.environ["TWINSTAR_DATA_DIR"] = os.path.expanduser(args.data_dir.strip())
    from .config import SettingsError, load_settings

    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"twinstar: {exc}", file=sys.stderr)
        return 2
    from .exchanges.registry import exchange_names

    exchanges = [e.strip().lower() for e in args.exchanges.split(",") if e.strip()] if args.exchanges else None
    bad = [e for e in exchanges or [] if e not in exchange_names()]
    if bad:
        print(f"twinstar: unknown exchange(s) {', '.join(bad)}; valid: {', '.join(exchange_names())}", file=sys.stderr)
        return 2
    first = (exchanges or ["bybit"])[0]
    symbols = {first: args.symbols} if args.symbols else None
    from .gui import early_window, run_gui

    # a returning user's window, with the chart they watched last, before the back end is imported
    window = None if args.demo else early_window(settings, exchanges)
    return run_gui(settings, demo=args.demo, speed=args.speed, seed=args.seed, quit_after=args.quit_after,
                   symbols=symbols, exchanges=exchanges, window=window)


if __name__ == "__main__":
    sys.exit(main())
