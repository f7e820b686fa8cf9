"""Pure: the reference a person sees for a post, instead of its platform id or link.

A post's platform id carries its author (a Bluesky at-uri holds the DID; a Mastodon status URL
holds the handle), and so does its public link. Pages, exports, e-mails and the API therefore
name a post only by this reference: a digest of the stored id, stable (the same post has the
same reference on every page and in every export, so colleagues can talk about it) and not
reversible without the post itself. The platform id stays in the store, only to deduplicate,
honour deletions and re-check the post on its platform (monitor/safeguards/recheck.py).
"""

from __future__ import annotations

import hashlib

PREFIX = "post-"


def post_ref(post_id: str) -> str:
    """E.g. "post-3f9a0c1d2e4b5a69" (16 hex digits of SHA-256 of the stored id)."""
    return PREFIX + hashlib.sha256(post_id.encode("utf-8")).hexdigest()[:16]
