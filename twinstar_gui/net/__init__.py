"""The only layer that touches the network: REST (requests) and WebSocket (websockets on asyncio)."""
