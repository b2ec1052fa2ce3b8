"""API keys: who may use a server, and whose colonies they see.

Keys come from a file, one per line (blank lines and ``#`` comments ignored; at least 16 characters each, so a key
cannot be guessed in a few tries). A request sends one as ``Authorization: Bearer KEY``. It is compared with every
known key in constant time (:func:`hmac.compare_digest`, and always against all of them), so timing says nothing
about which key or how much of one matched. A key is never logged or stored: a colony records its owner as
:func:`owner_of` the key, a truncated SHA-256 that identifies the key without revealing it.

Without a key file the server has no keys: every request is anonymous (owner ``None``, every colony visible), and
:func:`check_bind` refuses to listen anywhere but on loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from harmonix.errors import InvalidConfiguration, Unauthorized

MIN_KEY_CHARS = 16
OWNER_HEX = 24


def owner_of(key: str) -> str:
    """The owner id of ``key``: the first 24 hex digits of its SHA-256 (96 bits)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:OWNER_HEX]


@dataclass(frozen=True)
class ApiKeys:
    """The keys a server accepts (none: anonymous access, loopback only)."""

    keys: tuple[str, ...] = ()

    @classmethod
    def read(cls, path: Path) -> ApiKeys:
        """The keys in ``path`` (module docstring); :class:`InvalidConfiguration` for a missing file, an empty one
        or a short key (its line number named, never the key)."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidConfiguration(f"--api-key-file {path}: cannot read it ({error})") from None
        keys = []
        for number, line in enumerate(lines, 1):
            key = line.strip()
            if not key or key.startswith("#"):
                continue
            if len(key) < MIN_KEY_CHARS or any(char.isspace() for char in key):
                raise InvalidConfiguration(f"--api-key-file {path}, line {number}: a key must be at least "
                                           f"{MIN_KEY_CHARS} characters without spaces")
            keys.append(key)
        if not keys:
            raise InvalidConfiguration(f"--api-key-file {path} holds no key")
        return cls(tuple(keys))

    @property
    def required(self) -> bool:
        return bool(self.keys)

    def owner(self, authorization: str | None) -> str | None:
        """The owner id for a request's ``Authorization`` header; ``None`` when the server has no keys;
        :class:`Unauthorized` for a missing or unknown key."""
        if not self.keys:
            return None
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized("this server needs an API key: send it as 'Authorization: Bearer KEY'")
        offered = given.strip().encode("utf-8")
        matched = None
        for key in self.keys:  # every key, every time: the time taken says nothing about which one matched
            if hmac.compare_digest(offered, key.encode("utf-8")):
                matched = key
        if matched is None:
            raise Unauthorized("unknown API key")
        return owner_of(matched)


def check_bind(host: str, keys: ApiKeys) -> None:
    """Refuse to listen beyond loopback without keys (:class:`InvalidConfiguration`)."""
    if keys.required or is_loopback(host):
        return
    raise InvalidConfiguration(f"--host {host} would let anyone on the network in: without --api-key-file the "
                               "server listens on loopback only (127.0.0.1, ::1, localhost)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

