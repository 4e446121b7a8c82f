"""A keyring backend for subprocess tests: reads keys from the JSON file named by TWINSTAR_TEST_KEYRING.

The OS keyring (Secret Service, Keychain, Credential Locker) does not exist on the CI machine, and a child
process cannot see the in-memory backend of tests/conftest.py; this stands in for it, for tests only.
"""
import json
import os

from keyring.backend import KeyringBackend


class JsonFileKeyring(KeyringBackend):
    priority = 1

    def _data(self) -> dict:
        with open(os.environ["TWINSTAR_TEST_KEYRING"]) as f:
            return json.load(f)

    def get_password(self, service, username):
        return self._data().get(f"{service}/{username}")

    def set_password(self, service, username, password):
        raise NotImplementedError("read-only test keyring")

    def delete_password(self, service, username):
        raise NotImplementedError("read-only test keyring")
