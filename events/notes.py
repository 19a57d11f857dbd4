"""Signed checkpoints: C2SP `tlog-checkpoint` bodies signed as C2SP `signed-note`s (Ed25519).

Keys use the Go `golang.org/x/mod/sumdb/note` texts, so standard tools read them:
- verifier key: `<name>+<key id, 8 hex>+<base64(0x01 || public key)>`
- signer key:   `PRIVATE+KEY+<name>+<key id, 8 hex>+<base64(0x01 || 32-byte seed)>`
- key id: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key), big-endian.

`cryptography` does the Ed25519 (a reviewed implementation, not ours to write).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_ED25519 = b"\x01"
_DASH = "\u2014"
# A key name (and origin): printable, no spaces and no "+" (signed-note).
_NAME = re.compile(r"^[\x21-\x2a\x2c-\x7e]{1,255}$")


class NoteError(ValueError):
    """A checkpoint, key or signature that is not what it should be (the message says why)."""


def check_name(name: str) -> str:
    """A valid key name or origin, or NoteError naming what is wrong."""
    if not _NAME.match(name):
        raise NoteError(
            f"{name!r} cannot name a log: use 1 to 255 printable ASCII characters,"
            " without spaces or '+'"
        )
    return name


def _key_id(name: str, public: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()
    return int.from_bytes(digest[:4], "big")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not base64") from exc


def _key_text(text: str, prefix: str, what: str) -> tuple[str, str, bytes]:
    """The name, key id and 32 key bytes of a key's text, `<prefix>NAME+KEYID+BASE64` (the
    base64 of 0x01 and the key); NoteError naming what is wrong."""
    body = text.strip()
    parts = body[len(prefix) :].split("+", 2) if body.startswith(prefix) else []
    if len(parts) != 3:
        raise NoteError(f"a {what} key is {prefix}NAME+KEYID+BASE64")
    raw = _unb64(parts[2], f"the {what} key")
    if len(raw) != 33 or raw[:1] != _ED25519:
        raise NoteError(f"the {what} key is not an Ed25519 key")
    return check_name(parts[0]), parts[1].lower(), raw[1:]


def _with_id(verifier: Verifier, key_id: str, what: str) -> Verifier:
    """The verifier, once the key id its text gave is the one its name and key make."""
    if f"{verifier.key_id:08x}" != key_id:
        raise NoteError(f"the {what} key's id does not match its name and key")
    return verifier


@dataclass(frozen=True)
class Verifier:
    """A log's public key, by name."""

    name: str
    public: bytes

    @property
    def key_id(self) -> int:
        return _key_id(self.name, self.public)

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{_b64(_ED25519 + self.public)}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """A verifier key's text (`name+id+key`); NoteError naming what is wrong."""
        name, key_id, public = _key_text(text, "", "verifier")
        return _with_id(cls(name, public), key_id, "verifier")


@dataclass(frozen=True)
class Signer:
    """A log's signing key (its Ed25519 seed) and name."""

    name: str
    seed: bytes

    @property
    def verifier(self) -> Verifier:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()
        return Verifier(self.name, public)

    @classmethod
    def generate(cls, name: str) -> Signer:
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(check_name(name), seed)

    def text(self) -> str:
        key_id = self.verifier.key_id
        return f"PRIVATE+KEY+{self.name}+{key_id:08x}+{_b64(_ED25519 + self.seed)}\n"

    @classmethod
    def parse(cls, text: str) -> Signer:
        name, key_id, seed = _key_text(text, "PRIVATE+KEY+", "signer")
        found = cls(name, seed)
        _with_id(found.verifier, key_id, "signer")
        return found

    def sign(self, body: str) -> str:
        """The signed note: the body, a blank line, and this key's signature line."""
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(body.encode())
        stamp = self.verifier.key_id.to_bytes(4, "big") + signature
        return f"{body}\n{_DASH} {self.name} {_b64(stamp)}\n"


def load_or_create(path: Path, name: str) -> Signer:
    """The signer kept at `path`, made on first use (readable by its owner only).

    Two processes making it at once: one creates the file (O_EXCL), the other reads it.
    """
    try:
        return Signer.parse(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        pass
    except (UnicodeDecodeError, NoteError) as exc:
        raise NoteError(f"the log's signing key {path} is unreadable: {exc}") from exc
    signer = Signer.generate(name)
    if not keep(path, signer):
        return load_or_create(path, name)
    return signer


def keep(path: Path, signer: Signer) -> bool:
    """Write a signer key to a new file readable by its owner only; False (nothing written)
    if the file exists already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(signer.text())
        out.flush()
        os.fsync(out.fileno())
    return True


# -- checkpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A tree size and root, from its origin (c2sp.org/tlog-checkpoint)."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{_b64(self.root)}\n"


def signed_checkpoint(signer: Signer, checkpoint: Checkpoint) -> str:
    return signer.sign(checkpoint.body())


def read_checkpoint(text: str) -> Checkpoint:
    """The checkpoint a signed note states, its signatures unchecked (`open_checkpoint` checks
    them); NoteError naming what is wrong."""
    body, sep, _ = text.partition("\n\n")
    if not sep:
        raise NoteError("a checkpoint is its body, a blank line, then signature lines")
    lines = body.split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint's body has an origin, a size and a root hash")
    origin, size_text, root_text = lines[:3]
    if not (size_text.isdigit() and size_text == str(int(size_text))):
        raise NoteError(f"the checkpoint's size {size_text[:40]!r} is not a number")
    root = _unb64(root_text, "the checkpoint's root hash")
    if len(root) != 32:
        raise NoteError("the checkpoint's root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root)


def open_checkpoint(text: str, verifier: Verifier) -> Checkpoint:
    """The checkpoint of a signed note, once its signature by `verifier` checks; NoteError
    naming what is wrong otherwise."""
    checkpoint = read_checkpoint(text)
    body, _, signatures = text.partition("\n\n")
    expected_id = verifier.key_id.to_bytes(4, "big")
    public = Ed25519PublicKey.from_public_bytes(verifier.public)
    for line in signatures.split("\n"):
        dash, _, rest = line.partition(" ")
        name, _, stamp_text = rest.partition(" ")
        if dash != _DASH or name != verifier.name:
            continue
        stamp = _unb64(stamp_text, "a signature")
        if stamp[:4] != expected_id:
            continue
        try:
            public.verify(stamp[4:], (body + "\n").encode())
        except InvalidSignature as exc:
            raise NoteError(f"the signature by {verifier.name} does not verify") from exc
        return checkpoint
    raise NoteError(f"the checkpoint carries no signature by this log's key ({verifier.name})")
