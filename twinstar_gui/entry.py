"""The `twinstar` command's entry: stop signals are taken first, before the command line and Qt, pandas or
pyarrow are imported (a Ctrl-C during those imports was a traceback)."""
from __future__ import annotations

from .stopsignal import install_early_stop, raise_if_signalled, stoppable

install_early_stop()


def main() -> int:
    return stoppable(_run)


def _run() -> int:
    from .cli import run_command

    raise_if_signalled()  # one that came during the imports above
    return run_command(None)
