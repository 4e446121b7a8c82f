"""API keys in the OS keyring (service "twinstar"), never in the settings file, logs or reprs.

Where no usable keyring exists (a headless box: keyring's fail/null backends), keys are stored only if
the user opts in to a file readable by nobody else (0600, next to the settings file); that file is never
a silent fallback, and a file that others can read is refused.
"""
from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .files import write_text_atomic

SERVICE = "twinstar"
KEYS_FILE_NAME = "keys.json"

log = logging.getLogger(__name__)


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


# -- is there a keyring at all? ------------------------------------------------------------------------------
def keyring_problem() -> str | None:
    """None when an OS keyring backend is in place, else a sentence for the user saying there is none.
    (A backend that is present but fails on use is reported by load_keys/save_keys as KeyStoreError.)"""
    import keyring
    from keyring.backends import chainer, fail, null

    backend = keyring.get_keyring()
    if isinstance(backend, (fail.Keyring, null.Keyring)) or (
            isinstance(backend, chainer.ChainerBackend) and not backend.backends):
        return (f"No usable OS keyring was found ({type(backend).__module__}.{type(backend).__name__}); "
                "on Linux install and unlock a Secret Service provider such as GNOME Keyring or KWallet.")
    return None


def default_keys_file() -> Path:
    """The opt-in keys file: next to the settings file."""
    from .config import default_config_path

    return default_config_path().parent / KEYS_FILE_NAME


# -- keyring -------------------------------------------------------------------------------------------------
def load_keys(exchange: str, keys_file: str | os.PathLike | None = None) -> ApiKeys | None:
    """The exchange's keys from the OS keyring, else from the opt-in keys file if the user made one.
    `keys_file=None` means the default location."""
    import keyring
    from keyring.errors import KeyringError

    if keyring_problem() is None:
        k, s, p = _names(exchange)
        try:
            key, secret, phrase = (keyring.get_password(SERVICE, n) for n in (k, s, p))
        except KeyringError as exc:
            raise KeyStoreError(f"the OS keyring could not be read ({type(exc).__name__})") from None
        if key and secret:
            return ApiKeys(exchange, key, secret, phrase or "")
    entry = _read_file(Path(keys_file) if keys_file is not None else default_keys_file()).get(exchange)
    if not entry or not entry.get("key") or not entry.get("secret"):
        return None
    return ApiKeys(exchange, str(entry["key"]), str(entry["secret"]), str(entry.get("passphrase") or ""))


def require_keys(exchange: str) -> ApiKeys:
    """The keys live trading needs; KeyStoreError saying what to do when there are none (or no keyring)."""
    keys = load_keys(exchange)
    if keys is None:
        raise KeyStoreError(f"live mode needs API keys for {exchange}: none saved (set them in the terminal's "
                            "Settings > API keys)")
    return keys


def save_keys(keys: ApiKeys, *, plaintext_file: str | os.PathLike | None = None) -> None:
    """Into the OS keyring; or, only when the caller passes `plaintext_file` (the user's explicit opt-in),
    into that 0600 file. Never a fallback from one to the other."""
    import keyring
    from keyring.errors import KeyringError

    if not keys.key.strip() or not keys.secret.strip():
        raise ValueError("API key and secret must not be empty")
    if plaintext_file is not None:
        path = Path(plaintext_file)
        entries = _read_file(path)
        entries[keys.exchange] = {"key": keys.key.strip(), "secret": keys.secret.strip(),
                                  "passphrase": keys.passphrase}
        _write_file(path, entries)
        log.info("%s: API keys stored in the keys file %s (user's choice)", keys.exchange, path)
        return
    problem = keyring_problem()
    if problem:
        raise KeyStoreError(f"{problem} Nothing was saved.")
    k, s, p = _names(keys.exchange)
    try:
        keyring.set_password(SERVICE, k, keys.key.strip())
        keyring.set_password(SERVICE, s, keys.secret.strip())
        if keys.passphrase:
            keyring.set_password(SERVICE, p, keys.passphrase)
    except KeyringError as exc:
        raise KeyStoreError(f"the OS keyring refused to store the keys ({type(exc).__name__}); nothing was saved"
                            ) from None
    log.info("%s: API keys stored in the OS keyring", keys.exchange)


def delete_keys(exchange: str, keys_file: str | os.PathLike | None = None) -> None:
    """Remove the exchange's keys from the keyring and from the keys file (where present)."""
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    if keyring_problem() is None:
        for name in _names(exchange):
            try:
                keyring.delete_password(SERVICE, name)
            except PasswordDeleteError:
                pass  # was not there
            except KeyringError as exc:
                raise KeyStoreError(f"the OS keyring could not delete the keys ({type(exc).__name__})") from None
    path = Path(keys_file) if keys_file is not None else default_keys_file()
    entries = _read_file(path)
    if exchange in entries:
        del entries[exchange]
        _write_file(path, entries)
    log.info("%s: API keys removed", exchange)


# -- the opt-in keys file -------------------------------------------------------------------------------------
def _read_file(path: Path) -> dict[str, dict]:
    """{exchange: {key, secret, passphrase}}; {} when there is no file. Refuses a file others can read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise KeyStoreError(f"keys file {path}: cannot open ({exc.strerror or exc})") from None
    with os.fdopen(fd, "r", encoding="utf-8") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyStoreError(f"keys file {path} can be read by other users (mode {stat.S_IMODE(mode):o}); "
                                f"refusing to use it. Run: chmod 600 '{path}' "
                                "(and change the keys if others had access)")
        try:
            data = json.load(fh)
        except (OSError, ValueError):
            raise KeyStoreError(f"keys file {path}: not valid JSON; fix or delete it") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise KeyStoreError(f"keys file {path}: expected an object of exchange -> keys; fix or delete it")
    return data


def _write_file(path: Path, entries: dict[str, dict]) -> None:
    """Atomic write of a file created 0600 (in a 0700 dir when we create the dir)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        write_text_atomic(path, json.dumps(entries), mode=0o600)
    except OSError as exc:
        raise KeyStoreError(f"keys file {path}: cannot write ({exc.strerror or exc}); nothing was saved") from None
