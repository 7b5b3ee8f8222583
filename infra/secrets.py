"""Secrets at rest: token signing keys, partner connector secrets and webhook secrets are stored
encrypted with AES-256-GCM under a data key that never enters the database.

The data keys come from the settings (`POINTGATE_DATA_KEYS` or a key file): the first encrypts,
every one decrypts, so a key is rotated by putting a new one first, running
`pointgate keys reencrypt`, then dropping the old one. A stored value reads
`enc:v1:<key id>:<nonce + ciphertext, base64>`; the column's name is bound in as associated
data, so a ciphertext moved to another column does not decrypt. Values written before
encryption existed (no prefix) are read as they are until re-encrypted."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc:v1:"


class SecretsError(RuntimeError):
    """No usable data key, or a stored secret that no configured key decrypts."""


def new_data_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _key_bytes(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise SecretsError("a data key is 32 bytes, urlsafe-base64 encoded (pointgate keys new)")
    return raw


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:12]


@dataclass(frozen=True)
class Keyring:
    keys: tuple[bytes, ...]

    @classmethod
    def from_text(cls, values: list[str]) -> Keyring:
        keys = tuple(_key_bytes(v) for v in values if v.strip())
        if not keys:
            raise SecretsError("no data key configured")
        return cls(keys)

    def derived(self, purpose: str) -> list[bytes]:
        """A key for `purpose` (signing cookies, say) from each data key, current one last: sign
        with the last, accept any (a rotated data key keeps what was signed valid)."""
        return [hmac.new(key, purpose.encode(), hashlib.sha256).digest()
                for key in reversed(self.keys)]  # fmt: skip

    @property
    def current_id(self) -> str:
        return _key_id(self.keys[0])

    def encrypt(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[0]).encrypt(nonce, plaintext.encode(), purpose.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{PREFIX}{self.current_id}:{body}"

    def decrypt(self, stored: str, purpose: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # written before encryption; `pointgate keys reencrypt` seals it
        return _opened(self, stored, purpose)

    def _decrypt(self, stored: str, purpose: str) -> str:
        key_id, _, body = stored.removeprefix(PREFIX).partition(":")
        for key in self.keys:
            if _key_id(key) != key_id:
                continue
            raw = base64.urlsafe_b64decode(body.encode())
            try:
                return AESGCM(key).decrypt(raw[:12], raw[12:], purpose.encode()).decode()
            except InvalidTag:
                break
        raise SecretsError(f"no configured data key opens this {purpose} (key {key_id})")

    def is_current(self, stored: str) -> bool:
        return stored.startswith(f"{PREFIX}{self.current_id}:")


# Values read often (members' contact identities in every answer that shows them) are opened
# once per process: the last OPENED ones are kept, by keyring, ciphertext and purpose (a
# ciphertext's nonce is new on every write, so a changed value is a new entry).
OPENED = 16_384


@functools.lru_cache(maxsize=OPENED)
def _opened(keyring: Keyring, stored: str, purpose: str) -> str:
    return keyring._decrypt(stored, purpose)


_keyring: Keyring | None = None
_provider: Callable[[], Keyring] | None = None


def configure(provider: Callable[[], Keyring]) -> None:
    """Say where the process's data keys come from (at start-up, from the settings); they are
    read when a secret is first sealed or opened, so commands that touch none need no key."""
    global _keyring, _provider
    _keyring, _provider = None, provider


def keyring() -> Keyring:
    global _keyring
    if _keyring is None:
        if _provider is None:
            raise SecretsError("data keys are not configured (POINTGATE_DATA_KEYS)")
        _keyring = _provider()
    return _keyring


def read_key_file(path: Path, *, create: bool) -> list[str]:
    """The keys in a file, one per line; with `create`, a file with a new key if none exists."""
    if not path.exists():
        if not create:
            raise SecretsError(f"the data key file {path} does not exist")
        path.touch(mode=0o600)
        path.write_text(new_data_key() + "\n")
    return [line for line in path.read_text().splitlines() if line.strip()]
