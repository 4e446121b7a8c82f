"""Damage done to files on purpose, the same way wherever a test needs it."""
from pathlib import Path


def scribble_over_pages(path: Path) -> None:
    """Overwrite every data page of a Parquet file, keeping its magic bytes and footer intact: the file still
    opens (its footer reads), its rows do not."""
    raw = bytearray(path.read_bytes())
    footer = int.from_bytes(raw[-8:-4], "little") + 8
    for i in range(4, len(raw) - footer - 4):
        raw[i] = (raw[i] * 7 + 13) % 256
    path.write_bytes(bytes(raw))
