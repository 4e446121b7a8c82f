"""Exchange adapters (pure translation of wire formats) and the registry that names them."""
from ..core.errors import BadMessage, ExchangeError, RateLimited
from .base import ExchangeAdapter, RestBudget, RestRequest, empty_klines
from .registry import exchange_names, get_exchange

__all__ = ["BadMessage", "ExchangeError", "RateLimited", "ExchangeAdapter", "RestBudget", "RestRequest",
           "empty_klines", "exchange_names", "get_exchange"]
