"""Chart drawing items (pyqtgraph): candles, volume and RSI, fast with large histories."""
from .candle_item import CandlestickItem
from .rsi_item import RsiItem
from .volume_item import VolumeItem

__all__ = ["CandlestickItem", "RsiItem", "VolumeItem"]
