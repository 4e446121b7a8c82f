"""Chart drawing items (pyqtgraph): candles and volume, fast with large histories."""
from .candle_item import CandlestickItem
from .volume_item import VolumeItem

__all__ = ["CandlestickItem", "VolumeItem"]
