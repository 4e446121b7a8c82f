"""Presenters: QtCore-only objects between the domain and the widgets (bounded update rates)."""
