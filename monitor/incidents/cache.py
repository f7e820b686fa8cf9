"""Evidence posts' facts kept between regroupings, each checked against the store every time.

Every processed batch regroups the incidents from every open alert's evidence. Reading each
evidence post's facts again (its row, places, rule labels, classifier flags, rumour membership)
and asking again of each whether it answers its story made a batch's cost grow with its
stories' evidence: a copy-paste wave of 3,000 posts in batches of 50 spent 9 of its 14 s there.

The store is the truth and keeps no log of which posts' facts changed, and other processes
change them: a purge or erasure empties a post's text, a platform's edit replaces it and has the
post processed again, clustering moves memberships between claims (merges, splits, late claims)
and a person confirms one. So a fact read by an earlier regrouping is used again only while the
store, read in this transaction, still shows the same stamp for that post: its text, when it was
processed and its rumour memberships. The rest of its facts cannot change under the same stamp:
its places, author, time and links are written with its row and never after, its labels and
flags in the transaction that sets its processing time. A post with a new stamp, or none kept,
is read in full, as without the cache. A reading whose transaction rolled back may leave a
stamp the store never kept; the stage forgets each batch's own posts before it regroups, so a
batch tried again is read in full. Whether a post answers its story is remembered while its
facts are the very same record and the recorded counter messages the same; the allowlist's
names make `official`, so a change of them drops everything.

Only the posts of the last regrouping are kept (`retain`): an alert closed or a post erased
leaves no text behind here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

from sqlalchemy import BindParameter, Connection, String, and_, bindparam, select, type_coerce

from monitor.incidents.model import PostFacts
from monitor.incidents.responses import is_response
from monitor.store.tables import posts, rumour_posts

CHUNK = 500
# (text, processed at as the driver gives it, its memberships as (rumour, stance), sorted)
Stamp = tuple[str | None, object, tuple[tuple[int, str], ...]]
Loader = Callable[[Connection, Sequence[str], Collection[str]], dict[str, PostFacts]]

_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_STAMPS = (
    select(
        posts.c.id,
        posts.c.text,
        # compared, never used as a time: the driver's value as it comes (converting each
        # row's took a quarter of the reading)
        type_coerce(posts.c.processed_at, String),
        rumour_posts.c.rumour_id,
        rumour_posts.c.stance,
    )
    .select_from(
        posts.outerjoin(
            rumour_posts,
            and_(rumour_posts.c.post_id == posts.c.id, rumour_posts.c.state == "member"),
        )
    )
    .where(posts.c.id.in_(_IDS))
)


class PostFactsCache:
    """Post id -> (its stamp, its facts) as the last regrouping read them, and whether each
    answers its story. One per incident stage (process); never shared between processes."""

    def __init__(self, read: Loader) -> None:
        self._read = read  # the store's full reading (`store.load_posts`)
        self._facts: dict[str, tuple[Stamp, PostFacts]] = {}
        self._names: frozenset[str] | None = None
        self._answers: dict[str, tuple[PostFacts, bool]] = {}
        self._counters: tuple[frozenset[str], ...] | None = None

    def __len__(self) -> int:
        return len(self._facts)

    def clear(self) -> None:
        self._facts.clear()
        self._answers.clear()
        self._names = None
        self._counters = None

    def load(
        self,
        conn: Connection,
        ids: Sequence[str],
        official_names: Collection[str],
    ) -> dict[str, PostFacts]:
        """These posts' facts, as the store's full reading would give them now."""
        names = frozenset(official_names)
        if names != self._names:
            self.clear()
            self._names = names
        stamps = _read_stamps(conn, ids)
        out: dict[str, PostFacts] = {}
        stale: list[str] = []
        for pid in ids:
            stamp = stamps.get(pid)
            if stamp is None:  # no such post (any more): the full reading finds none either
                self._facts.pop(pid, None)
                continue
            held = self._facts.get(pid)
            if held is not None and held[0] == stamp:
                out[pid] = held[1]
            else:
                stale.append(pid)
        fresh = self._read(conn, stale, names) if stale else {}
        for pid in stale:
            facts = fresh.get(pid)
            if facts is None:
                self._facts.pop(pid, None)
                continue
            out[pid] = facts
            if len(stamps[pid][2]) <= 1:
                self._facts[pid] = (stamps[pid], facts)
            else:  # several memberships: which one the reading keeps is not pinned; read again
                self._facts.pop(pid, None)
        return out

    def responder(self, counter_texts: Iterable[frozenset[str]]) -> Callable[[PostFacts], bool]:
        """`is_response` for this regrouping's counter messages, remembered per post while
        its facts are the same record (the cache hands out the one it holds)."""
        counters = tuple(counter_texts)
        if counters != self._counters:
            self._answers.clear()
            self._counters = counters
        known = self._answers

        def responds(post: PostFacts) -> bool:
            held = known.get(post.id)
            if held is not None and held[0] is post:
                return held[1]
            answer = is_response(post, counters)
            known[post.id] = (post, answer)
            return answer

        return responds

    def forget(self, ids: Iterable[str]) -> None:
        """Drop these posts: the batch being processed writes their labels and processing
        time, and a batch retried after a rollback writes them again (its first reading was
        of a transaction that never committed)."""
        for pid in ids:
            self._facts.pop(pid, None)
            self._answers.pop(pid, None)

    def retain(self, ids: Collection[str]) -> None:
        """Keep only these posts (the last regrouping's): nothing of a post that left every
        open story, or of its text, stays behind."""
        keep = ids if isinstance(ids, set | frozenset | dict) else set(ids)
        for held in (self._facts, self._answers):
            for pid in [p for p in held if p not in keep]:
                del held[pid]


def _read_stamps(conn: Connection, ids: Sequence[str]) -> dict[str, Stamp]:
    base: dict[str, tuple[str | None, object]] = {}
    member: dict[str, list[tuple[int, str]]] = {}
    for i in range(0, len(ids), CHUNK):
        for pid, text, processed_at, rumour_id, stance in conn.execute(
            _STAMPS, {"ids": list(ids[i : i + CHUNK])}
        ):
            base[pid] = (text, processed_at)
            if rumour_id is not None:
                member.setdefault(pid, []).append((int(rumour_id), stance or ""))
    return {pid: (text, at, tuple(sorted(member.get(pid, ())))) for pid, (text, at) in base.items()}
