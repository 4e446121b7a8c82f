"""The op/args WebSocket dialect OKX and Bitget share: subscribe args, text pong, event acks, arg/data pushes."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..core.models import MarketEvent, SubscriptionAck

if TYPE_CHECKING:
    from .base import ExchangeAdapter as _Adapter  # what this mixin is mixed into
else:
    _Adapter = object


class OpArgsWs(_Adapter):
    """Mixin for ExchangeAdapter subclasses. Topics are "channel:instId" strings."""

    #: fields every subscription arg carries besides channel and instId (Bitget: instType)
    arg_extra: dict[str, str] = {}

    def _args(self, topics: Sequence[str]) -> list[dict[str, str]]:
        return [{**self.arg_extra, "channel": channel, "instId": inst}
                for channel, _, inst in (t.partition(":") for t in topics)]

    def subscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        return json.dumps({"op": "subscribe", "args": self._args(topics)})

    def unsubscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        return json.dumps({"op": "unsubscribe", "args": self._args(topics)})

    def _channel_frame(self, raw: str | bytes) -> list[MarketEvent] | tuple[str, str, list[Any], dict[str, Any]]:
        """Control frames -> their events ([] or a rejected subscription); data pushes -> (channel, instId,
        data rows, whole message). Anything else raises BadMessage."""
        if raw in ("pong", b"pong"):
            return []
        msg = self._decode_json(raw)
        if not isinstance(msg, dict):
            raise self._bad("frame is not a JSON object", raw)
        event = msg.get("event")
        if event == "error":
            return [SubscriptionAck(self.name, False, "subscribe", f"{msg.get('code')}: {msg.get('msg', '')}")]
        if isinstance(event, str):
            return []  # subscribe/unsubscribe acks, login, notices
        arg, data = msg.get("arg"), msg.get("data")
        if not isinstance(arg, dict) or not isinstance(arg.get("channel"), str) or not isinstance(data, list):
            raise self._bad("frame has neither event nor arg/data", raw)
        return arg["channel"], str(arg.get("instId", "")), data, msg
