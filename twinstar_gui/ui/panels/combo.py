"""Combo box helpers shared by the panels."""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QComboBox


def items_of(box: QComboBox) -> list[str]:
    return [box.itemText(i) for i in range(box.count())]


def refill(box: QComboBox, items: Sequence[str]) -> str:
    """Replace the items without a change signal; the current one stays when still offered. Returns the one that
    was current before (the caller says whether the selection moved)."""
    current = box.currentText()
    box.blockSignals(True)
    box.clear()
    box.addItems(list(items))
    if current in items:
        box.setCurrentText(current)
    box.blockSignals(False)
    return current
