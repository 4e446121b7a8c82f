"""API keys in the OS keyring (service "twinstar"), never in the settings file, logs or reprs."""
from __future__ import annotations

from dataclasses import dataclass

SERVICE = "twinstar"


class KeyStoreError(RuntimeError):
    """The OS keyring failed or is missing; the message says what to do (no secret in it)."""


@dataclass(frozen=True)
class ApiKeys:
    exchange: str
    key: str
    secret: str
    passphrase: str = ""  # OKX, Bitget

    def __repr__(self) -> str:  # never the secret, only enough of the key to recognise it
        shown = f"{self.key[:4]}…" if len(self.key) > 8 else "…"
        return f"ApiKeys({self.exchange}, key={shown}, secret=<hidden>)"

    __str__ = __repr__


def _names(exchange: str) -> tuple[str, str, str]:
    return f"{exchange}:api_key", f"{exchange}:api_secret", f"{exchange}:passphrase"


def load_keys(exchange: str) -> ApiKeys | None:
    import keyring
    from keyring.errors import KeyringError

    k, s, p = _names(exchange)
    try:
        key, secret, phrase = (keyring.get_password(SERVICE, n) for n in (k, s, p))
    except KeyringError as exc:
        raise KeyStoreError(f"the OS keyring could not be read ({type(exc).__name__})") from None
    if not key or not secret:
        return None
    return ApiKeys(exchange, key, secret, phrase or "")


def save_keys(keys: ApiKeys) -> None:
    import keyring
    from keyring.errors import KeyringError

    if not keys.key.strip() or not keys.secret.strip():
        raise ValueError("API key and secret must not be empty")
    k, s, p = _names(keys.exchange)
    try:
        keyring.set_password(SERVICE, k, keys.key.strip())
        keyring.set_password(SERVICE, s, keys.secret.strip())
        if keys.passphrase:
            keyring.set_password(SERVICE, p, keys.passphrase)
    except KeyringError as exc:
        raise KeyStoreError(f"the OS keyring refused to store the keys ({type(exc).__name__}); nothing was saved"
                            ) from None
