"""One atomic small-file write for settings and key files: temp file beside the target, fsync, os.replace.

Not in core: core does no file I/O (STYLE.md)."""
from __future__ import annotations

import os
from pathlib import Path


def write_text_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Replace `path` with `text`: a crash leaves the old file or the new one, never half of one.
    `mode` (e.g. 0o600) creates the temp file with exactly those permissions and never follows a symlink.
    Raises OSError; the temp file is removed on failure."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if mode is None:
            fh = open(tmp, "w", encoding="utf-8")
        else:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), mode)
            fh = os.fdopen(fd, "w", encoding="utf-8")
        with fh:
            if mode is not None and os.name == "posix":
                os.fchmod(fh.fileno(), mode)  # a stale temp file may have had other bits
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
