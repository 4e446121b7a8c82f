"""Domain errors; each names the exchange and, where it helps, the symbol and an excerpt of the payload."""
from __future__ import annotations

from typing import Any

EXCERPT_CHARS = 160


def excerpt(payload: object, limit: int = EXCERPT_CHARS) -> str:
    """A short printable excerpt of a raw payload for error messages and logs; a cut one says how long it was."""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        data = bytes(payload)
        head = data[: limit * 4]  # enough for `limit` characters: one takes 4 bytes at most
        text = head.decode("utf-8", errors="replace")
        cut = len(head) < len(data)
        size = f"{len(data)} bytes in all"  # only the decoded head's length in characters is known
    else:
        text = str(payload)
        cut = False
        size = f"+{len(text) - limit} chars"
    text = text.replace("\n", " ").replace("\r", " ")
    return f"{text[:limit]}...({size})" if cut or len(text) > limit else text


def _where(exchange: str, endpoint: str, symbol: str) -> str:
    """`bybit /v5/market/kline [BTCUSDT]`: what a request error starts with."""
    return exchange + (f" {endpoint}" if endpoint else "") + (f" [{symbol}]" if symbol else "")


class TwinStarError(Exception):
    """Base class of our domain errors."""


class TransportError(TwinStarError):
    """No HTTP answer came back: the request failed on the network (the exchange said nothing about it).

    Never a verdict on the request itself (a symbol, a parameter): retry it. Subclasses say how it failed."""

    kind = "network"

    def __init__(self, exchange: str, detail: str, *, endpoint: str = "", symbol: str = "") -> None:
        self.exchange = exchange
        self.detail = detail
        self.endpoint = endpoint
        self.symbol = symbol
        super().__init__(f"{_where(exchange, endpoint, symbol)}: {self.kind} error: {detail}")

    def with_symbol(self, symbol: str) -> TransportError:
        return type(self)(self.exchange, self.detail, endpoint=self.endpoint, symbol=symbol)


class ConnectFailed(TransportError):
    """The connection was refused, reset or dropped before an answer."""

    kind = "connect"


class RequestTimedOut(TransportError):
    """Connecting or waiting for the answer took longer than the client's timeout."""

    kind = "timeout"


class TlsFailed(TransportError):
    """The TLS handshake or certificate check failed."""

    kind = "tls"


class DnsFailed(TransportError):
    """The exchange's host name did not resolve."""

    kind = "dns"


class ExchangeError(TwinStarError):
    """The exchange answered with an error (an envelope's code, or an HTTP status: see HttpStatusError)."""

    def __init__(self, exchange: str, message: str, *, code: int | str | None = None,
                 endpoint: str = "", symbol: str = "", status: int | None = None) -> None:
        self.exchange = exchange
        self.code = code
        self.message = message
        self.endpoint = endpoint
        self.symbol = symbol
        self.status = status
        code_txt = f" code={code}" if code is not None else ""
        http = f" HTTP {status}" if status is not None else ""
        super().__init__(f"{_where(exchange, endpoint, symbol)}:{http}{code_txt} {message}".strip())

    def with_symbol(self, symbol: str) -> ExchangeError:
        """The same error naming the symbol the request was for."""
        out = type(self).__new__(type(self))
        out.__dict__.update(self.__dict__)  # a subclass's own fields too (RateLimited.retry_after)
        ExchangeError.__init__(out, self.exchange, self.message, code=self.code, endpoint=self.endpoint, symbol=symbol,
                               status=self.status)
        return out


class HttpStatusError(ExchangeError):
    """The exchange answered with an HTTP error status (4xx/5xx); `code` holds its envelope's code if the body
    had one. A 5xx is the exchange's trouble, not the request's: retry it."""

    @property
    def server_side(self) -> bool:
        return self.status is not None and self.status >= 500


class RateLimited(HttpStatusError):
    """The exchange throttled us (HTTP 429/403/418 or an envelope code meaning the same)."""

    def __init__(self, exchange: str, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(exchange, message, **kw)
        self.retry_after = retry_after


class BadMessage(ValueError, TwinStarError):
    """A frame or payload we cannot decode or whose shape is unexpected."""

    def __init__(self, exchange: str, reason: str, payload: object) -> None:
        self.exchange = exchange
        self.reason = reason
        self.excerpt = excerpt(payload)
        super().__init__(f"{exchange}: {reason}: {self.excerpt}")


class RestClosed(TwinStarError):
    """A REST client was closed (the app is stopping): no more requests, no more waiting."""


def is_transient(exc: BaseException) -> bool:
    """True for failures that say nothing about the request and pass by themselves: no answer (transport),
    throttling, or the exchange's own server error (HTTP 5xx). Decided by type and status, never by text."""
    if isinstance(exc, (TransportError, RateLimited)):
        return True
    return isinstance(exc, HttpStatusError) and exc.server_side


def short_reason(exc: BaseException) -> str:
    """A few words for a status line: what kind of failure, not its whole text."""
    if isinstance(exc, TransportError):
        return {"connect": "cannot connect", "timeout": "no answer in time", "tls": "TLS failed",
                "dns": "host name not found"}.get(exc.kind, "network error")
    if isinstance(exc, RateLimited):
        return "rate limited"
    if isinstance(exc, HttpStatusError):
        return f"HTTP {exc.status}"
    if isinstance(exc, ExchangeError):
        return f"error {exc.code}" if exc.code is not None else "exchange error"
    if isinstance(exc, BadMessage):
        return "unreadable answer"
    return type(exc).__name__
