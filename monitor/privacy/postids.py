"""Pure: post identifiers at rest are keyed, and the platform's own id is sealed.

A post's platform id names its author (a Bluesky at-uri holds the DID, a Mastodon status URI
the handle), and so do its public link and the reply, quote and repost targets. None of them is
stored as such (issue 13, finding 11):

- the post's id, and its reply/quote/repost links, are stored as a keyed HMAC of the platform
  id (`key`): the same platform id always gives the same stored id, so duplicates are still
  recognised, replies still join their parent and a platform deletion (which names the
  platform id) still finds the post, but the stored id cannot be turned back into the author;
- the public link is stored as a keyed HMAC too (`link`), only so that `monitor erase LINK`
  finds the post; nothing opens the original any more;
- the platform id itself is kept sealed (AES-256-GCM, `seal`), only for the re-check on the
  platform before an excerpt is shown (monitor/privacy/recheck.py) — the one use that needs it.

All three are derived from one deployment key (monitor/store/keys.py: random, kept in the store,
mixed with the secret `post_key_env` names when set). Unlike author keys it never rotates: a
post keeps its id for as long as it is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ID_HEX = 32  # 128 bits: collisions are out of reach for any store's size
SEAL_VERSION = "v1."
_NONCE = 12


class SealError(ValueError):
    """A sealed value that this key cannot open (another deployment's key, or damaged)."""


def _derive(key: bytes, label: bytes) -> bytes:
    return hmac.new(key, b"monitor post ids\x00" + label, hashlib.sha256).digest()


class PostIds:
    """Keys ids and links, seals and opens platform ids, all under one deployment key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the post id key must be at least 32 bytes")
        self._id_key = _derive(key, b"id")
        self._link_key = _derive(key, b"link")
        self._aead = AESGCM(_derive(key, b"seal"))
        self.check = _derive(key, b"check").hex()[:32]

    def key(self, platform_id: str) -> str:
        """The stored id of a platform id ("bluesky:at://…" -> "bluesky:3f9a…"): the platform
        prefix stays (it names no one), the rest is a keyed HMAC of the whole id."""
        platform, sep, _ = platform_id.partition(":")
        digest = hmac.new(
            self._id_key, platform_id.encode("utf-8", "replace"), hashlib.sha256
        ).hexdigest()[:ID_HEX]
        return f"{platform}:{digest}" if sep and platform else digest

    def key_optional(self, platform_id: str | None) -> str | None:
        return self.key(platform_id) if platform_id else None

    def link(self, url: str | None) -> str | None:
        """The stored form of a public link: "link:" and a keyed HMAC (for `monitor erase`)."""
        if not url:
            return None
        digest = hmac.new(self._link_key, url.encode("utf-8", "replace"), hashlib.sha256)
        return "link:" + digest.hexdigest()[:ID_HEX]

    def seal(self, value: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8", "replace"), b"platform-id")
        return SEAL_VERSION + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str) -> str:
        if not token.startswith(SEAL_VERSION):
            raise SealError("not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(token[len(SEAL_VERSION) :].encode("ascii"))
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], b"platform-id")
        except (InvalidTag, ValueError) as exc:
            raise SealError("cannot open a sealed value with this key") from exc
        return str(plain.decode("utf-8"))
