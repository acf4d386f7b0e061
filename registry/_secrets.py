"""Encryption at rest for stored credentials: Fernet keys from the environment, with rotation.

``ATRIUM_SECRET_KEYS`` holds comma-separated Fernet keys (urlsafe base64 of 32 random bytes,
``atrium secrets generate-key`` prints one). The first key encrypts; every key decrypts
(``MultiFernet``). Rotating is therefore three steps: put the new key first, run
``atrium secrets rotate`` (every stored credential is re-encrypted under the new key), then
drop the old key.

Without configured keys:

- SQLite, the embedded default, generates a key on first use and keeps it in ``secret.key``
  next to the database file (mode 0600), warning once: fine on a laptop, not in production.
  An in-memory database gets a key that lives as long as the process.
- PostgreSQL refuses to store or read credentials (:class:`SecretKeyError`): a production
  database must not keep its own key, so the operator provides one.

Plaintexts and keys never appear in errors, logs or reprs.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from registry._errors import InvalidInputError, SecretKeyError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from registry._settings import Settings

logger = logging.getLogger(__name__)

KEY_FILE_NAME = "secret.key"


def generate_key() -> str:
    """A new random Fernet key, as ``ATRIUM_SECRET_KEYS`` takes it."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str) -> list[bytes]:
    """The comma-separated keys of ``ATRIUM_SECRET_KEYS``, primary first (empty items ignored).

    Raises:
        InvalidInputError: an item is not a Fernet key (which one is said by position, never shown).
    """
    keys = [item.strip().encode("ascii", "replace") for item in text.split(",") if item.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise InvalidInputError(
                f"ATRIUM_SECRET_KEYS: key {position} of {len(keys)} is not a Fernet key (urlsafe base64 of 32 bytes)"
            ) from None
    return keys


class SecretBox:
    """Encrypts and decrypts credential plaintexts with the configured keys."""

    def __init__(self, keys: Sequence[bytes] = (), *, key_file: Path | None = None, ephemeral: bool = False) -> None:
        """``keys`` primary first. With none: a generated key kept in ``key_file`` (or, if
        ``ephemeral``, in memory only); with neither, every operation raises SecretKeyError."""
        self._keys = list(keys)
        self._key_file = key_file
        self._ephemeral = ephemeral
        self._fernet: MultiFernet | None = MultiFernet([Fernet(key) for key in keys]) if keys else None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        """The box for ``settings``: its keys, else SQLite's generated key, else none (PostgreSQL).

        Raises:
            InvalidInputError: ``ATRIUM_SECRET_KEYS`` is malformed.
        """
        keys = parse_keys(settings.secret_keys)
        if keys or not settings.database_url.startswith("sqlite"):
            return cls(keys)
        path = settings.sqlite_path()
        if path is None:
            return cls(ephemeral=True)
        return cls(key_file=path.parent / KEY_FILE_NAME)

    def __repr__(self) -> str:
        source = f"{len(self._keys)} configured keys" if self._keys else f"key file {self._key_file}"
        return f"SecretBox({'ephemeral key' if self._ephemeral else source})"

    def encrypt(self, plaintext: str) -> bytes:
        """The Fernet token of ``plaintext`` under the primary key.

        Raises:
            SecretKeyError: no key is configured (PostgreSQL without ``ATRIUM_SECRET_KEYS``).
        """
        return self._multi(create=True).encrypt(plaintext.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        """The plaintext of a token made by :meth:`encrypt` under any configured key.

        Raises:
            SecretKeyError: no key is configured, or none of them decrypts ``token``.
        """
        try:
            return self._multi(create=False).decrypt(token).decode("utf-8")
        except InvalidToken:
            raise SecretKeyError(
                "no key in ATRIUM_SECRET_KEYS decrypts this stored credential "
                "(was the key that encrypted it removed before `atrium secrets rotate`?)"
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted under the primary key (unchanged plaintext).

        Raises:
            SecretKeyError: as :meth:`decrypt`.
        """
        try:
            return self._multi(create=False).rotate(token)
        except InvalidToken:
            raise SecretKeyError("no key in ATRIUM_SECRET_KEYS decrypts a stored credential; nothing rotated") from None

    def _multi(self, *, create: bool) -> MultiFernet:
        with self._lock:
            if self._fernet is None:
                self._fernet = MultiFernet([Fernet(key) for key in self._generated_keys(create=create)])
            return self._fernet

    def _generated_keys(self, *, create: bool) -> list[bytes]:
        if self._ephemeral:
            logger.warning("ATRIUM_SECRET_KEYS is not set: credentials of this in-memory database use a throwaway key")
            return [Fernet.generate_key()]
        if self._key_file is None:
            raise SecretKeyError(
                "ATRIUM_SECRET_KEYS is not set: on PostgreSQL credentials are stored only under a key "
                "the operator provides (generate one with `atrium secrets generate-key`)"
            )
        try:
            return self._read_key_file()
        except FileNotFoundError:
            if not create:
                raise SecretKeyError(
                    f"ATRIUM_SECRET_KEYS is not set and {self._key_file} does not exist: no key decrypts credentials"
                ) from None
        key = Fernet.generate_key()
        self._key_file.parent.mkdir(parents=True, exist_ok=True)
        # Written whole to a private temporary file, then linked into place: of two processes
        # racing to create the key, one wins and the other reads a complete file.
        descriptor, temporary = tempfile.mkstemp(dir=self._key_file.parent, prefix=".secret-key-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(key + b"\n")
            os.link(temporary, self._key_file)
        except FileExistsError:
            return self._read_key_file()
        finally:
            os.unlink(temporary)
        logger.warning(
            "ATRIUM_SECRET_KEYS is not set: generated a credential key in %s; set ATRIUM_SECRET_KEYS in production",
            self._key_file,
        )
        return [key]

    def _read_key_file(self) -> list[bytes]:
        """The keys in the file, one a line, primary first (the file rotates like the variable)."""
        assert self._key_file is not None
        try:
            keys = parse_keys(self._key_file.read_text(encoding="ascii", errors="replace").replace("\n", ","))
        except InvalidInputError:
            keys = []
        if not keys:
            raise SecretKeyError(f"{self._key_file} does not hold Fernet keys, one a line")
        if self._key_file.stat().st_mode & 0o077:
            logger.warning("%s is readable by other users; chmod 600 it", self._key_file)
        logger.warning("ATRIUM_SECRET_KEYS is not set: credentials are encrypted with the key in %s", self._key_file)
        return keys
