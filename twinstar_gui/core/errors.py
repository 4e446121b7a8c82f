"""Domain errors; each names the exchange and, where it helps, the symbol and an excerpt of the payload."""
from __future__ import annotations

EXCERPT_CHARS = 160


def excerpt(payload: object, limit: int = EXCERPT_CHARS) -> str:
    """A short printable excerpt of a raw payload for error messages and logs."""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        text = bytes(payload)[: limit * 4].decode("utf-8", errors="replace")
    else:
        text = str(payload)
    text = text.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else text[:limit] + f"...(+{len(text) - limit} chars)"


class TwinStarError(Exception):
    """Base class of our domain errors."""


class ExchangeError(TwinStarError):
    """The exchange answered with an error (envelope code or HTTP status)."""

    def __init__(self, exchange: str, message: str, *, code: int | str | None = None,
                 endpoint: str = "", symbol: str = "", status: int | None = None) -> None:
        self.exchange = exchange
        self.code = code
        self.message = message
        self.endpoint = endpoint
        self.symbol = symbol
        self.status = status
        where = f" {endpoint}" if endpoint else ""
        sym = f" [{symbol}]" if symbol else ""
        code_txt = f" code={code}" if code is not None else ""
        http = f" HTTP {status}" if status is not None else ""
        super().__init__(f"{exchange}{where}{sym}:{http}{code_txt} {message}".strip())


class RateLimited(ExchangeError):
    """The exchange throttled us (HTTP 429/403/418 or an envelope code meaning the same)."""

    def __init__(self, exchange: str, message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(exchange, message, **kw)
        self.retry_after = retry_after


class BadMessage(ValueError, TwinStarError):
    """A frame or payload we cannot decode or whose shape is unexpected."""

    def __init__(self, exchange: str, reason: str, payload: object) -> None:
        self.exchange = exchange
        self.reason = reason
        self.excerpt = excerpt(payload)
        super().__init__(f"{exchange}: {reason}: {self.excerpt}")


class StaleStream(TwinStarError):
    """A stream went silent longer than its liveness limit."""
