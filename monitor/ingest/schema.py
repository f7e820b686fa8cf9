"""The one validated schema of a post record at the store boundary (pydantic v2).

Every source hands ingest a `RawPost`: the file importer and the push endpoint (after their
own per-line checks, which report file:line), and each collector's parser (Jetstream,
Mastodon, RSS, Reddit). Whatever the source, the record is checked here against what the
store's columns and the later stages can hold, with the bounds in `monitor.ingest.bounds`:

- ids, links, names and tags within their column sizes, with no unpaired UTF-16 surrogates
  (which no store can encode; pydantic-core refuses them as it reads the string);
- no NUL character in the platform or source, which are stored as given (PostgreSQL refuses
  it where SQLite keeps it, so the stores would differ);
- `created_at` timezone-aware and within [2000-01-01, now + 1 day] (refused otherwise);
- engagement counts clamped to 0 .. 2^31 - 1 (the post is kept).

A record that fails gets one `SchemaError` naming the fields and why; the caller refuses that
record only, and the rest of its batch goes on.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from monitor.ingest.bounds import clamp_count, created_at_problem, has_nul
from monitor.types import RawPost

MAX_PLATFORM_CHARS = 40  # posts.platform
MAX_POST_ID_CHARS = 512  # posts.id, and the reply/quote/repost links
MAX_SOURCE_CHARS = 200  # posts.source
MAX_URL_CHARS = 4096
MAX_AUTHOR_CHARS = 1024  # only ever hashed, but a megabyte "author" is a broken record
MAX_LANGUAGE_CHARS = 35  # the longest BCP 47 tag in common use, with room

Count = Annotated[int, BeforeValidator(lambda v: clamp_count(v) if type(v) is int else v)]


def _text(max_chars: int, min_chars: int = 0) -> Any:
    return Annotated[str, StringConstraints(min_length=min_chars, max_length=max_chars)]


class SchemaError(ValueError):
    """A post record the store cannot take; the message names each field and why."""


class PostRecord(BaseModel):
    """A RawPost's fields as the store needs them (strict types: nothing is coerced)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    platform: _text(MAX_PLATFORM_CHARS, 1)  # type: ignore[valid-type]
    native_id: _text(MAX_POST_ID_CHARS, 1)  # type: ignore[valid-type]
    text: str
    created_at: AwareDatetime
    author_id: _text(MAX_AUTHOR_CHARS) | None = None  # type: ignore[valid-type]
    source: _text(MAX_SOURCE_CHARS, 1) = "import"  # type: ignore[valid-type]
    url: _text(MAX_URL_CHARS) | None = None  # type: ignore[valid-type]
    language: _text(MAX_LANGUAGE_CHARS) | None = None  # type: ignore[valid-type]
    reply_to: _text(MAX_POST_ID_CHARS) | None = None  # type: ignore[valid-type]
    quote_of: _text(MAX_POST_ID_CHARS) | None = None  # type: ignore[valid-type]
    repost_of: _text(MAX_POST_ID_CHARS) | None = None  # type: ignore[valid-type]
    like_count: Count = 0
    repost_count: Count = 0
    reply_count: Count = 0
    is_html: bool = False

    @field_validator("platform", "source")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        # The strings stored as given (see bounds.has_nul). Ids, links and authors are stored
        # only keyed or sealed, the language tag only once normalised, and the text's NULs are
        # removed: a NUL in those loses nothing, so the post is kept.
        if has_nul(value):
            raise ValueError("contains a NUL character (\\u0000), which the store cannot hold")
        return value

    @field_validator("created_at")
    @classmethod
    def _plausible(cls, value: datetime, info: ValidationInfo) -> datetime:
        now = (info.context or {}).get("now")
        if isinstance(now, datetime):
            problem = created_at_problem(value, now)
            if problem is not None:
                raise ValueError(problem)
        return value


def check_post(raw: RawPost, now: datetime) -> RawPost:
    """`raw` as the store can hold it (counts clamped), or SchemaError saying why not."""
    if len(raw.post_id) > MAX_POST_ID_CHARS:
        raise SchemaError(f"{raw.post_id[:80]}: id is too long for the store")
    try:
        record = PostRecord.model_validate(
            {f.name: getattr(raw, f.name) for f in dataclasses.fields(raw)},
            context={"now": now},
        )
    except ValidationError as exc:
        raise SchemaError(f"{raw.post_id[:80]}: {_reasons(exc)}") from None
    return dataclasses.replace(
        raw,
        like_count=record.like_count,
        repost_count=record.repost_count,
        reply_count=record.reply_count,
    )


def _reasons(exc: ValidationError) -> str:
    names = {"native_id": "id", "author_id": "author", "created_at": "created_at"}
    out = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in error["loc"][:1]) or "record"
        field = names.get(field, field)
        if error["type"] == "string_too_long":
            out.append(f"{field} is too long for the store")
        elif error["type"] == "string_too_short":
            out.append(f"{field} is empty")
        elif error["type"] == "string_unicode":  # pydantic-core cannot take lone surrogates
            out.append(f"{field} holds an unpaired UTF-16 surrogate, which no store can hold")
        elif error["type"] == "timezone_aware":
            out.append(f"{field}: times must carry a UTC offset")
        else:
            out.append(f"{field}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(out)
