"""Pure trading domain: candles, timeframes, events, resampling, indicators. Imports nothing of ours."""
from .errors import BadMessage, ExchangeError, RateLimited, StaleStream, TwinStarError
from .indicators import rsi_wilder
from .models import Candle, CandleSource, KlineEvent, MarketEvent, SubscriptionAck, TickerEvent, TradeEvent
from .resample import GroupResampler, resample_complete
from .timeframe import BASE_TIMEFRAME, CHART_TIMEFRAMES, DERIVED_TIMEFRAMES, Timeframe
from .trades import TradeCandles

__all__ = [
    "BadMessage", "ExchangeError", "RateLimited", "StaleStream", "TwinStarError", "rsi_wilder",
    "Candle", "CandleSource", "KlineEvent", "MarketEvent", "SubscriptionAck", "TickerEvent", "TradeEvent",
    "GroupResampler", "resample_complete", "BASE_TIMEFRAME", "CHART_TIMEFRAMES", "DERIVED_TIMEFRAMES",
    "Timeframe", "TradeCandles",
]
