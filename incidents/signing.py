"""Ed25519 signatures for the record: every timeline and audit entry is signed as it is written,
and every checkpoint of the chains' heads is signed, with a key that is never in the database.

Whoever owns the database can rewrite rows and recompute hashes, but cannot sign: a rewritten or
forged entry fails its signature, and a truncated or erased chain falls short of the last signed
checkpoint (incidents/checkpoints.py).

The private key comes from the environment (RELAY_SIGNING_KEY: the base64 of the 32-byte seed, or
a PEM) or a file (RELAY_SIGNING_KEY_FILE). Without either, a key file is created on first use next
to the code: right for the embedded default on one machine; `check --deploy` warns about it.
Old public keys stay trusted for verification after a rotation: RELAY_SIGNING_TRUSTED_KEYS.
"""

import base64
import hashlib
import os
import threading
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_lock = threading.Lock()
_cache: dict[tuple, Ed25519PrivateKey] = {}


def _load(text: str, source: str) -> Ed25519PrivateKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError("not an Ed25519 key")
            return key
        seed = base64.b64decode(text, validate=True)
        return Ed25519PrivateKey.from_private_bytes(seed)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"{source} is not an Ed25519 private key (give the base64 of its 32-byte seed, or a "
            f"PEM): {error}") from None


def _from_file(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        if settings.RELAY_SIGNING_KEY_FILE_CONFIGURED:
            raise ImproperlyConfigured(f"RELAY_SIGNING_KEY_FILE {path} does not exist.")
        _create(path)
    return _load(path.read_text(), f"The key file {path}")


def _create(path: Path) -> None:
    """A new key, written once with owner-only permissions (never overwrites one)."""
    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first: use theirs
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(seed).decode() + "\n")


def private_key() -> Ed25519PrivateKey:
    key_text, key_file = settings.RELAY_SIGNING_KEY, str(settings.RELAY_SIGNING_KEY_FILE)
    cache_key = (key_text, key_file)
    with _lock:
        if cache_key not in _cache:
            _cache[cache_key] = (_load(key_text, "RELAY_SIGNING_KEY") if key_text
                                 else _from_file(Path(key_file)))
        return _cache[cache_key]


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def key_id(key: Ed25519PublicKey | None = None) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_bytes(key or public_key())).hexdigest()[:16]


def public_key_b64() -> str:
    return base64.b64encode(public_bytes(public_key())).decode()


def trusted_keys() -> list[Ed25519PublicKey]:
    """The current public key, then any older ones kept trusted after a rotation."""
    cache_key = ("trusted", settings.RELAY_SIGNING_KEY, str(settings.RELAY_SIGNING_KEY_FILE),
                 tuple(settings.RELAY_SIGNING_TRUSTED_KEYS))
    keys = _trusted.get(cache_key)
    if keys is None:
        keys = _trusted[cache_key] = _trusted_keys()
    return keys


_trusted: dict[tuple, list[Ed25519PublicKey]] = {}


def _trusted_keys() -> list[Ed25519PublicKey]:
    keys = [public_key()]
    for text in settings.RELAY_SIGNING_TRUSTED_KEYS:
        try:
            keys.append(Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True)))
        except ValueError:
            raise ImproperlyConfigured(
                f"RELAY_SIGNING_TRUSTED_KEYS holds {text!r}, not the base64 of an Ed25519 "
                "public key.") from None
    return keys


def sign(message: bytes) -> str:
    return base64.b64encode(private_key().sign(message)).decode()


def verify(message: bytes, signature: str | None) -> bool:
    """True when any trusted key signed this message."""
    if not signature:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
    except ValueError:
        return False
    for key in trusted_keys():
        try:
            key.verify(raw, message)
            return True
        except InvalidSignature:
            continue
    return False


def entry_message(chain: str, entry_hash: str) -> bytes:
    """What an entry's signature covers: its chain's name and its hash (which covers its content
    and, through the previous hash, everything before it)."""
    return f"relay:{chain}:{entry_hash}".encode()
