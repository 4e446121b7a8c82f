"""Shared by the adapter tests: an odd ticker item is left out with one log line saying why, never the whole list."""
import logging


def assert_item_left_out(caplog, parse, payload, exchange: str, why: str, quoted: str | None = None) -> None:
    """parse(payload) gives no row for the odd item and logs `<exchange>: 1 ticker item(s) refused, e.g.
    <exchange>: <why...>: <excerpt of the item>`."""
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="twinstar_gui.exchanges.base"):
        frame = parse(payload)
    assert frame.empty, frame
    (rec,) = [r for r in caplog.records if "ticker item(s) refused" in r.getMessage()]
    prefix = f"{exchange}: 1 ticker item(s) refused, e.g. {exchange}: {why}"
    assert rec.getMessage().startswith(prefix), rec.getMessage()
    if quoted is not None:
        assert quoted[:100] in rec.getMessage(), rec.getMessage()
