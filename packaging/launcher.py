"""Entry script of the packaged app (PyInstaller): the same `twinstar` command as the pip-installed one."""
import os
import sys


def _streams_for_windowed_app() -> None:
    # A windowed build on Windows/macOS starts with sys.stdout/stderr = None: print() and logging would raise.
    # On Windows, reuse the console we were started from (so `twinstar.exe --self-test` in cmd shows its output);
    # otherwise send the text to the null device.
    if sys.stdout is not None and sys.stderr is not None:
        return
    if sys.platform == "win32":
        try:
            import ctypes

            if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
                sys.stdout = sys.stdout or open("CONOUT$", "w", encoding="utf-8", errors="replace")
                sys.stderr = sys.stderr or open("CONOUT$", "w", encoding="utf-8", errors="replace")
        except OSError:
            pass
    sys.stdout = sys.stdout or open(os.devnull, "w", encoding="utf-8")
    sys.stderr = sys.stderr or open(os.devnull, "w", encoding="utf-8")


if __name__ == "__main__":
    from twinstar_gui.stopsignal import install_early_stop

    install_early_stop()  # before the heavy imports: a Ctrl-C meanwhile is a message, not a traceback
    import multiprocessing

    multiprocessing.freeze_support()  # a no-op unless a child process is spawned from the frozen app
    _streams_for_windowed_app()
    from twinstar_gui.entry import main

    sys.exit(main())
