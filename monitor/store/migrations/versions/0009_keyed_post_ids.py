"""keyed post ids: platform ids, links and reply/quote/repost targets no longer stored as such

Every stored post id (posts and each table that names a post: places, labels, alert evidence,
rumour members, windowed-rule events, tombstones, the quarantine, rumours' representatives)
becomes the keyed HMAC that ingest now writes (monitor/privacy/postids.py); links become keyed
HMACs; the platform id is sealed in the new `posts.origin` for re-checks. The key is the
deployment's post id key (created here if the store holds any post), mixed with the secret
`post_key_env` names, which `monitor db upgrade` and `monitor run` pass in.

Not reversible: HMACs cannot be turned back, and going back would store authors' ids again;
the downgrade refuses a store that holds posts (restore a backup taken before instead).

Create Date: 2026-12-05 23:30:00
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Tables whose `post_id` names a post, with a foreign key to posts (moved with the posts) or
# without one (they may name posts that are not stored: tombstones, evidence of purged posts).
FK_CHILDREN = ("place_matches", "post_labels", "rumour_posts")
OTHER_CHILDREN = ("alert_posts", "window_events", "post_tombstones")
_SEALED = ("native_id", "url", "reply_to", "quote_of", "repost_of", "text")


def _rekey(conn: sa.Connection, table: str, column: str, fn: Callable[[str], str]) -> None:
    t = sa.table(table, sa.column(column))
    olds = [v for (v,) in conn.execute(sa.select(t.c[column]).distinct()) if v]
    pairs = [{"old": v, "new": fn(v)} for v in olds if fn(v) != v]
    if pairs:
        conn.execute(
            sa.update(t)
            .where(t.c[column] == sa.bindparam("old"))
            .values({column: sa.bindparam("new")}),
            pairs,
        )


def upgrade() -> None:
    op.create_table(
        "deployment_keys",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("key", sa.LargeBinary(length=64), nullable=False),
        sa.Column("check", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployment_keys")),
    )
    op.add_column("posts", sa.Column("origin", sa.Text(), nullable=True))
    conn = op.get_bind()
    held = sum(
        int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
        for t in ("posts", "post_tombstones", "quarantine", "alert_posts", "window_events")
    )
    if held == 0:
        return  # the key is made on first use
    from monitor.privacy.minimise import Masker
    from monitor.store.keys import post_ids_sync

    secret = context.config.attributes.get("post_key_secret")
    ids = post_ids_sync(conn, secret, datetime.now(UTC))

    # Posts: a copy under the keyed id, children moved to it, then the old row removed (the
    # foreign keys neither cascade updates nor defer on both backends; this works on both).
    columns = [c["name"] for c in sa.inspect(conn).get_columns("posts")]
    posts = sa.table("posts", *(sa.column(c) for c in columns))
    rows = [dict(r._mapping) for r in conn.execute(sa.select(posts))]
    for r in rows:
        platform_id = r["id"]
        r["id"] = ids.key(platform_id)
        r["origin"] = ids.seal(platform_id)
        r["url"] = ids.link(r["url"])
        for link in ("reply_to", "quote_of", "repost_of"):
            r[link] = ids.key_optional(r[link])
    old_ids = [{"old": pid} for (pid,) in conn.execute(sa.select(posts.c.id))]
    if rows:
        conn.execute(sa.insert(posts), rows)
    for table in FK_CHILDREN:
        _rekey(conn, table, "post_id", ids.key)
    if old_ids:
        conn.execute(sa.delete(posts).where(posts.c.id == sa.bindparam("old")), old_ids)
    for table in OTHER_CHILDREN:
        _rekey(conn, table, "post_id", ids.key)
    _rekey(conn, "rumours", "representative_post_id", ids.key)

    # The quarantine: its key and post id, and the record's ids, links and (raw) text.
    q = sa.table(
        "quarantine",
        sa.column("id"),
        sa.column("key"),
        sa.column("post_id"),
        sa.column("record", sa.JSON),
    )
    mask = Masker()
    for qid, key, post_id, record in conn.execute(
        sa.select(q.c.id, q.c.key, q.c.post_id, q.c.record)
    ):
        data: Any = record
        if isinstance(data, dict) and data.get("kind") == "post":
            platform_id = str(data["id"])
            data["id"] = ids.key(platform_id)
            data["origin"] = ids.seal(platform_id)
            data["url"] = ids.link(data.get("url"))
            for link in ("reply_to", "quote_of", "repost_of"):
                data[link] = ids.key_optional(data.get(link))
        elif isinstance(data, dict) and data.get("kind") == "raw" and "sealed" not in data:
            data["sealed"] = ids.seal(json.dumps({f: data.get(f) for f in _SEALED}))
            for f in _SEALED:
                data.pop(f, None)
            data["text"] = mask(json.loads(ids.open(data["sealed"]))["text"] or "")
        conn.execute(
            sa.update(q)
            .where(q.c.id == qid)
            .values(
                key=ids.key(key),
                post_id=ids.key_optional(post_id),
                record=data,
            )
        )


def downgrade() -> None:
    conn = op.get_bind()
    posts = sa.table("posts", sa.column("id"), sa.column("origin"))
    if int(conn.execute(sa.select(sa.func.count()).select_from(posts)).scalar_one()):
        raise RuntimeError(
            "0009 keyed the stored post ids; going back would store platform ids (which name "
            "their authors) again. Restore a backup taken before the upgrade instead."
        )
    op.drop_column("posts", "origin")
    op.drop_table("deployment_keys")
