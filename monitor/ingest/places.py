"""Place gazetteers, and the matcher that finds the places a post names.

A gazetteer (`rules/places/<name>.yaml`, format in that folder's README) lists one district's
wards with their ONS codes, its localities and the wards in each, and hand-picked
neighbourhoods and landmarks resolved to their ward. `PlaceMatcher` compiles every name of every
gazetteer into one regular expression shaped as a trie, so a post is scanned once in C however
many names there are, and at each position the longest name wins ("Bradford Moor" over
"Bradford", "Hanging Heaton" over "Heaton"). Names match case-insensitively and only as whole
words: "Heaton" is not found in "Heatonville" or "Earlsheaton".

A name can also be written meaning something else, and the words around it say so; each
gazetteer configures these checks, so that any council gets them (format in the README):
a street named after the place ("Keighley Road", `street_words`), a person ("Mr Thornton",
`person_titles`; "Paul Heaton" after a given name in `first_names`, for names marked
`person_name`), the same name elsewhere
said with where ("Heaton, Newcastle", `elsewhere`), a phrase to drop only as capitalised
("Bradford City" the club, not "Bradford city", `cased_not_places`), and an account handle
("@heaton_history", always).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from monitor.config import ConfigError, Settings
from monitor.documents.cache import ParsedFiles, digest
from monitor.documents.schema import Document, DocumentError, Problem, Schema, validate
from monitor.types import PlaceMatch

PLACE_KINDS = ("neighbourhood", "landmark")
# When one gazetteer gives the same name to places of different kinds (Shipley is a ward and
# a locality), the most specific one takes it: its match still carries the locality.
_SPECIFICITY = {"ward": 0, "neighbourhood": 1, "landmark": 1, "locality": 2, "district": 3}
_GAZETTEER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MATCHED_MAX = 200  # place_matches.matched is String(200)
# Written right after a name, these make it a street's name ("Leeds Road", "Keighley Rd"): a
# road is named after the town it leads to, so it says nothing about being in that town. A
# gazetteer may replace the list (`street_words`); a street that is a place is listed as one
# ("Manningham Lane"), and the longer name wins before this check.
DEFAULT_STREET_WORDS = (
    "Road", "Rd", "Street", "Lane", "Ln", "Avenue", "Ave", "Drive", "Terrace", "Close",
    "Crescent", "Grove", "Way", "Walk", "Row", "Mount", "Parade", "Gardens",
)  # fmt: skip
# Written right before a name, these make it a person's ("Mr Thornton", "Dr Shipley"); matched
# with their capitals, so that "I miss Bingley" is still Bingley. `person_titles` replaces it.
DEFAULT_PERSON_TITLES = (
    "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Sir", "Dame", "Lord", "Lady", "Cllr", "Councillor",
    "Prof", "Professor", "Rev", "Judge", "Justice", "Inspector", "Sgt", "Sergeant", "PC", "DC",
    "DI", "DS", "Captain", "Uncle", "Auntie",
)  # fmt: skip
# Written right before a name marked `person_name`, with their capitals, these make it a
# person's ("Paul Heaton", "RIP Bradley Heaton"). A list, not "any capitalised word": shops,
# churches and qualifiers come before place names as often ("Tesco Heaton", "Asda Thornton",
# "St Barnabas Heaton", "Upper Thornton"), and a capital alone cannot tell them apart. Common
# given names in the districts' communities; names that are also everyday words ("Will",
# "May", "Mark", "Grace") are left out. `first_names` replaces the list.
DEFAULT_FIRST_NAMES = (
    "Aaron", "Adam", "Adrian", "Ahmed", "Aisha", "Alan", "Alex", "Alexander", "Alice", "Alison",
    "Amanda", "Amir", "Amy", "Andrew", "Andy", "Angela", "Anna", "Anne", "Anthony", "Asif",
    "Ayesha", "Barbara", "Barry", "Ben", "Benjamin", "Beth", "Bilal", "Billy", "Bob", "Bradley",
    "Brian", "Callum", "Carl", "Caroline", "Catherine", "Charlie", "Charlotte", "Chloe",
    "Chris", "Christine", "Christopher", "Claire", "Colin", "Connor", "Craig", "Daniel", "Danny",
    "Darren", "Dave", "David", "Dean", "Debbie", "Dennis", "Derek", "Donna", "Dylan", "Ed",
    "Edward", "Eileen", "Elaine", "Eleanor", "Ella", "Emily", "Emma", "Eric", "Fatima",
    "Freddie", "Gary", "Gemma", "Geoff", "George", "Gordon", "Graham", "Hannah", "Harry",
    "Hassan", "Helen", "Ian", "Imran", "Jack", "Jacob", "Jake", "James", "Jamie", "Jane",
    "Janet", "Jason", "Jayne", "Jean", "Jennifer", "Jenny", "Jessica", "Jim", "Joan", "Joanne",
    "Joe", "John", "Jon", "Jonathan", "Joseph", "Josh", "Joshua", "Julie", "Karen", "Kate",
    "Katie", "Kelly", "Kevin", "Khalid", "Kieran", "Kirsty", "Laura", "Lauren", "Leah", "Lee",
    "Len", "Leo", "Lewis", "Liam", "Linda", "Lisa", "Louise", "Lucy", "Luke", "Lynn", "Maria",
    "Marie", "Martin", "Mary", "Matt", "Matthew", "Megan", "Michael", "Michelle", "Mike",
    "Mo", "Mohammed", "Mohammad", "Muhammad", "Nadia", "Naveed", "Neil", "Nicola", "Nigel",
    "Noah", "Oliver", "Olivia", "Omar", "Owen", "Paul", "Pauline", "Peter", "Phil", "Philip",
    "Rachel", "Rebecca", "Richard", "Rick", "Robert", "Ryan", "Saima", "Sajid", "Sam",
    "Samantha", "Samuel", "Sandra", "Sarah", "Scott", "Sean", "Shabir", "Sharon", "Shaun",
    "Simon", "Sophie", "Stephen", "Steve", "Steven", "Stuart", "Susan", "Tariq", "Thomas",
    "Tim", "Tom", "Tommy", "Tony", "Tracey", "Usman", "Wayne", "William", "Yasmin", "Zahid",
    "Zoe",
)  # fmt: skip


class GazetteerError(ConfigError):
    """A gazetteer that cannot be used; the message names the file, the entry and the reason.
    A ConfigError, so a command that meets one while starting prints it in one line."""


@dataclass(frozen=True, slots=True)
class Place:
    """One named area or spot, already resolved to the areas tension levels are kept for."""

    id: str
    name: str
    kind: str  # ward | locality | district | neighbourhood | landmark
    ward: str | None
    locality: str | None
    district: str
    code: str | None = None  # ONS code for wards, localities and districts
    at: tuple[float, float] | None = None  # approximate (lat, lon), for checking by hand

    def to_match(self, matched: str) -> PlaceMatch:
        return PlaceMatch(
            place_id=self.id,
            name=self.name,
            kind=self.kind,
            ward=self.ward,
            locality=self.locality,
            district=self.district,
            matched=matched[:_MATCHED_MAX],
        )


@dataclass(frozen=True, slots=True)
class PlaceName:
    """A written form that names a place; `place` None marks a not-place (matched, dropped)."""

    text: str
    place: Place | None
    cased: bool = False  # matched only with the capitals as written
    person: bool = False  # also a surname: not a place after a given name (`first_names`)


@dataclass(frozen=True, slots=True)
class Gazetteer:
    name: str
    path: Path
    district: Place
    localities: tuple[Place, ...]
    wards: tuple[Place, ...]
    places: tuple[Place, ...]  # neighbourhoods and landmarks
    names: tuple[PlaceName, ...]
    street_words: tuple[str, ...] = DEFAULT_STREET_WORDS
    person_titles: tuple[str, ...] = DEFAULT_PERSON_TITLES
    first_names: tuple[str, ...] = DEFAULT_FIRST_NAMES
    elsewhere: tuple[str, ...] = ()  # towns, cities and counties outside the district

    @property
    def areas(self) -> tuple[Place, ...]:
        """The district, its localities and its wards: the areas levels are kept for."""
        return (self.district, *self.localities, *self.wards)

    @classmethod
    def load(cls, path: Path) -> Gazetteer:
        """The gazetteer at `path`; parsed once per process for the same path and bytes (a
        Gazetteer is immutable, so every runtime loading it shares it), anew once edited."""
        try:
            raw = Document.read_bytes(path, what="gazetteer file")
            return _GAZETTEERS.get(
                (str(path), digest(raw)),
                lambda: _GazetteerReader(Document.from_bytes(raw, str(path)), path).read(),
            )
        except DocumentError as exc:
            raise GazetteerError(str(exc)) from None


# --- the file's schema -----------------------------------------------------------------------

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Loc = tuple[str | int, ...]


def _place_kind(kind: str) -> str:
    if kind not in PLACE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(PLACE_KINDS)}")
    return kind


def _point(at: list[float]) -> list[float]:
    if len(at) != 2 or not (-90 <= at[0] <= 90 and -180 <= at[1] <= 180):
        raise ValueError("'at' must be [latitude, longitude]")
    return at


class _Named(Schema):
    """The keys every named area or spot has: how it is written in posts."""

    name: Text
    aliases: list[Text] | None = None
    cased_aliases: list[Text] | None = None
    match_name: bool = True
    match_case: bool = False
    person_name: bool = False


class _District(_Named):
    code: Text | None = None


class _Locality(_Named):
    code: Text | None = None
    wards: list[Text] | None = None


class _Ward(_Named):
    code: Text


class _PlaceEntry(_Named):
    kind: Annotated[str, AfterValidator(_place_kind)]
    ward: Text | None = None
    locality: Text | None = None
    at: Annotated[list[float], AfterValidator(_point)] | None = None


class _GazetteerFile(Schema):
    district: _District
    localities: list[_Locality] | None = None
    wards: list[_Ward] | None = None
    places: list[_PlaceEntry] | None = None
    not_places: list[Text] | None = None
    cased_not_places: list[Text] | None = None
    street_words: list[Text] | None = None
    person_titles: list[Text] | None = None
    first_names: list[Text] | None = None
    elsewhere: list[Text] | None = None


def _words(given: list[str] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """A gazetteer's own list where it gives one (an empty list turns the check off)."""
    return default if given is None else tuple(given)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")


class _GazetteerReader:
    """The schema checks each entry; this resolves the entries to places and checks what joins
    them (wards in localities, places in wards, each name given to one place), reporting every
    problem at once, each at its line."""

    def __init__(self, doc: Document, path: Path) -> None:
        self.doc = doc
        self.path = path
        self.gaz = path.stem
        self.problems: list[Problem] = []
        self.loc_of: dict[str, Loc] = {}  # place id -> where it is written

    def fail(self, loc: Loc, reason: str) -> None:
        self.problems.append(self.doc.problem(loc, reason))

    def names_of(self, entry: _Named, place: Place, loc: Loc) -> list[PlaceName]:
        self.loc_of[place.id] = loc
        out: list[PlaceName] = []
        person = entry.person_name
        if entry.match_name:
            out.append(PlaceName(place.name, place, entry.match_case, person))
        out += [PlaceName(a, place, False, person) for a in entry.aliases or ()]
        out += [PlaceName(a, place, True, person) for a in entry.cased_aliases or ()]
        if not out:
            self.fail(loc, "match_name is false and there are no aliases to match")
        for n in out:
            if not _key(n.text):
                self.fail(loc, f"name {n.text!r} has no letters or digits")
        return out

    def read(self) -> Gazetteer:
        spec = validate(_GazetteerFile, self.doc)
        d = spec.district
        district = Place(
            id=f"{self.gaz}/district",
            name=d.name,
            kind="district",
            ward=None,
            locality=None,
            district=d.name,
            code=d.code,
        )
        names = self.names_of(d, district, ("district",))
        localities, ward_locality = self.localities(spec.localities or [], d.name)
        wards = self.wards(spec.wards or [], bool(localities), ward_locality, d.name)
        for i, (e, loc) in enumerate(zip(spec.localities or [], localities, strict=True)):
            names += self.names_of(e, loc, ("localities", i))
        for i, (w, ward) in enumerate(zip(spec.wards or [], wards, strict=True)):
            names += self.names_of(w, ward, ("wards", i))
        places = self.places(spec.places or [], localities, wards, ward_locality, d.name, names)
        for key, cased in (("not_places", False), ("cased_not_places", True)):
            for i, text in enumerate(getattr(spec, key) or []):
                if not _key(text):
                    self.fail((key, i), "must be a name")
                names.append(PlaceName(text, None, cased))
        for key in ("street_words", "person_titles", "first_names", "elsewhere"):
            for i, text in enumerate(getattr(spec, key) or []):
                if not _key(text):
                    self.fail((key, i), "must be a word or name")
        self.check_names(names)
        if self.problems:
            raise DocumentError(self.problems)
        return Gazetteer(
            name=self.gaz,
            path=self.path,
            district=district,
            localities=tuple(localities),
            wards=tuple(wards),
            places=tuple(places),
            names=tuple(names),
            street_words=_words(spec.street_words, DEFAULT_STREET_WORDS),
            person_titles=_words(spec.person_titles, DEFAULT_PERSON_TITLES),
            first_names=_words(spec.first_names, DEFAULT_FIRST_NAMES),
            elsewhere=tuple(spec.elsewhere or ()),
        )

    def localities(
        self, entries: Sequence[_Locality], district: str
    ) -> tuple[list[Place], dict[str, str]]:
        ward_locality: dict[str, str] = {}
        localities: list[Place] = []
        for i, e in enumerate(entries):
            localities.append(
                Place(
                    id=f"{self.gaz}/locality/{e.code or _slug(e.name)}",
                    name=e.name,
                    kind="locality",
                    ward=None,
                    locality=e.name,
                    district=district,
                    code=e.code,
                )
            )
            for member in e.wards or ():
                if member in ward_locality:
                    self.fail(
                        ("localities", i, "wards"),
                        f"ward {member!r} is already in locality {ward_locality[member]!r}",
                    )
                ward_locality.setdefault(member, e.name)
        self.unique([loc.name for loc in localities], "localities", "name")
        return localities, ward_locality

    def wards(
        self,
        entries: Sequence[_Ward],
        in_localities: bool,
        ward_locality: dict[str, str],
        district: str,
    ) -> list[Place]:
        wards: list[Place] = []
        for i, w in enumerate(entries):
            if in_localities and w.name not in ward_locality:
                self.fail(("wards", i), "ward is in no locality's 'wards' list")
            wards.append(
                Place(
                    id=f"{self.gaz}/ward/{w.code}",
                    name=w.name,
                    kind="ward",
                    ward=w.name,
                    locality=ward_locality.get(w.name),
                    district=district,
                    code=w.code,
                )
            )
        if not wards:
            self.fail(("wards",), "a gazetteer needs at least one ward")
        missing = sorted(set(ward_locality) - {w.name for w in wards})
        if missing:
            self.fail(("localities",), f"ward {missing[0]!r} is not in 'wards'")
        self.unique([w.name for w in wards], "wards", "name")
        self.unique([w.id for w in wards], "wards", "code")
        return wards

    def places(
        self,
        entries: Sequence[_PlaceEntry],
        localities: Sequence[Place],
        wards: Sequence[Place],
        ward_locality: dict[str, str],
        district: str,
        names: list[PlaceName],
    ) -> list[Place]:
        ward_names = {w.name for w in wards}
        locality_names = {loc.name for loc in localities}
        places: list[Place] = []
        for i, e in enumerate(entries):
            loc: Loc = ("places", i)
            if e.ward is not None and e.ward not in ward_names:
                self.fail((*loc, "ward"), f"unknown ward {e.ward!r}")
            if e.locality is not None and e.locality not in locality_names:
                self.fail((*loc, "locality"), f"unknown locality {e.locality!r}")
            if e.ward and e.locality and ward_locality.get(e.ward) != e.locality:
                self.fail(loc, f"ward {e.ward!r} is not in locality {e.locality!r}")
            if e.ward is None and e.locality is None:
                self.fail(loc, "give the 'ward' it lies in (or its 'locality')")
            kind = "hood" if e.kind == "neighbourhood" else e.kind
            place = Place(
                id=f"{self.gaz}/{kind}/{_slug(e.name)}",
                name=e.name,
                kind=e.kind,
                ward=e.ward,
                locality=e.locality or (ward_locality.get(e.ward) if e.ward else None),
                district=district,
                at=(e.at[0], e.at[1]) if e.at else None,
            )
            places.append(place)
            names += self.names_of(e, place, loc)
        self.unique([p.id for p in places], "places", "name")
        return places

    def unique(self, values: Sequence[str], key: str, what: str) -> None:
        seen: set[str] = set()
        for i, v in enumerate(values):
            if v in seen:
                self.fail((key, i, what), f"{v!r} appears twice")
            seen.add(v)

    def check_names(self, names: Iterable[PlaceName]) -> None:
        by_key: dict[str, list[PlaceName]] = {}
        for n in names:
            by_key.setdefault(_key(n.text), []).append(n)
        for group in by_key.values():
            places = {n.place.id: n.place for n in group if n.place is not None}
            if places and any(n.place is None for n in group):
                self.fail(("not_places",), f"{group[0].text!r} also names a place")
            ranked = sorted(places.values(), key=lambda p: _SPECIFICITY[p.kind])
            if len(ranked) > 1 and _SPECIFICITY[ranked[0].kind] == _SPECIFICITY[ranked[1].kind]:
                self.fail(
                    self.loc_of.get(ranked[1].id, ()),
                    f"{group[0].text!r} names both {ranked[0].id} and {ranked[1].id}; "
                    "qualify one of them",
                )


# --- matching --------------------------------------------------------------------------------

# Between the words of a name, text may put spaces, hyphens, underscores, dots or nothing at all
# (hashtags: #BradfordMoor, #LowMoor); an apostrophe may be straight, curly or left out.
_SEP = r"[\s\-_.]*"
_APOS = r"['’]?"
_AND = r"(?:and|&)"
_SAINT = r"(?:st|saint)"
_NAME_TOKENS = re.compile(r"[^\W_]+|['’]|&|[\s\-_.]+|.")


def _key(text: str) -> str:
    """The form names and matched text are compared in: case, spacing and punctuation folded."""
    s = text.casefold().replace("&", " and ")
    s = re.sub(r"\bsaint\b", "st", s)
    return re.sub(r"[\W_]+", "", s)


def _shape(text: str) -> str:
    """A name's letters with their case, for the names matched only as written."""
    return re.sub(r"[\W_]+", "", text.replace("&", "and"))


def _lower(ch: str) -> str:
    low = ch.lower()
    return low if len(low) == 1 else ch


def _units(name: str) -> list[str]:
    units: list[str] = []
    for token in _NAME_TOKENS.findall(name.strip()):
        low = token.casefold()
        if token in ("'", "’"):
            units.append(_APOS)
        elif token == "&" or low == "and":
            units.append(_AND)
        elif low in ("st", "saint"):
            units.append(_SAINT)
        elif token.isalnum():
            # One case, so that names differing only in case share the trie's branches and the
            # longest still wins ("Idle" and "idle chatter", "Bradford City" and "Bradford
            # city centre"); the regex ignores case, and cased names are checked after.
            units.extend(re.escape(_lower(ch)) for ch in token)
        elif re.fullmatch(r"[\s\-_.]+", token):
            if units and units[-1] != _SEP:
                units.append(_SEP)
        else:
            units.append(re.escape(token))
    while units and units[-1] in (_SEP, _APOS):
        units.pop()
    return units


class _Trie:
    __slots__ = ("children", "terminal")

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.terminal = False

    def add(self, units: Sequence[str]) -> None:
        node = self
        for u in units:
            node = node.children.setdefault(u, _Trie())
        node.terminal = True

    def pattern(self) -> str:
        return self._pattern()[0]

    def _pattern(self) -> tuple[str, int]:
        """This node's pattern and depth, each child's worked out once (asking every node for
        its depth as it sorted re-walked the trie below it at every level)."""
        # Deeper branches first, and an optional tail rather than an alternation with the
        # empty string, so that at any position the regex takes the longest name it can.
        built = [(unit, *child._pattern()) for unit, child in self.children.items()]
        if not built:
            return "", 1
        built.sort(key=lambda b: -b[2])
        alts = [unit + pattern for unit, pattern, _ in built]
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        depth = 1 + built[0][2]
        if self.terminal:
            return f"(?:{body})?", depth
        return body, depth


# A list of places ("Bradford, Leeds and Manchester") is not a name said with where it is.
_LIST_SEP = re.compile(r"\s*(?:[,&/+]|\band\b|\bor\b)\s*", re.IGNORECASE)
_LIST_BEFORE = re.compile(r"(?:[,&/+]|\band|\bor)\s*$", re.IGNORECASE)
# The capitalised word right before a name, when it is a word on its own (not a tag or handle).
_PREV_WORD = re.compile(r"(?<![^\s(\"“‘])[A-Z][a-z][\w'’\-]*\s+$")
_CAPITAL_WORD_END = re.compile(r"(?<![^\W_])[A-Z][\w'’\-]*\s*$")
_WINDOW = 60  # characters looked at around a name: the longest title or qualifier fits


@dataclass(frozen=True, slots=True)
class _Context:
    """One gazetteer's checks of the words around a name, compiled once."""

    street: re.Pattern[str] | None  # matched where a name ends
    titles: frozenset[str]  # the word right before a name, without a full stop
    first_names: frozenset[str]  # the word right before a name marked person_name
    elsewhere: re.Pattern[str] | None  # matched where a name ends: ", Newcastle"
    where: re.Pattern[str] | None  # a place elsewhere, on its own
    listed_before: re.Pattern[str] | None  # searched before a name: "Manchester, "


def _alternation(words: Iterable[str]) -> str:
    trie = _Trie()
    for w in words:
        trie.add(_units(w))
    return trie.pattern()


def _context(gaz: Gazetteer) -> _Context:
    street = elsewhere = where_re = listed_before = None
    if gaz.street_words:
        # The street word's capital is kept to tell "Keighley Road" (the street) from
        # "Shipley road safety" (the place, then a noun).
        street = re.compile(
            rf"[\s\-_.]*({_alternation(gaz.street_words)})(?![^\W_])", re.IGNORECASE
        )
    if gaz.elsewhere:
        where = _alternation(gaz.elsewhere)
        elsewhere = re.compile(
            rf"(?:\s*[,(]\s*|\s+(?:in|near|nr|-)\s+)(?:the\s+)?(?P<q>{where})(?![^\W_])",
            re.IGNORECASE,
        )
        where_re = re.compile(rf"(?:{where})(?![^\W_])", re.IGNORECASE)
        listed_before = re.compile(
            rf"(?<![^\W_])(?:{where})\s*(?:[,&/+]|\band|\bor)\s*$", re.IGNORECASE
        )
    titles = frozenset(t.rstrip(".") for t in gaz.person_titles)
    return _Context(street, titles, frozenset(gaz.first_names), elsewhere, where_re, listed_before)


@dataclass(frozen=True, slots=True)
class _Entry:
    """What one folded name stands for in one gazetteer."""

    place: Place | None  # None: a not-place, which hides shorter names inside it
    shape: str | None  # the capitals it must be written with, when cased
    person: bool  # also a person's name
    context: _Context


Resolved = tuple[_Entry, ...]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """What matching needs, built from some gazetteers: immutable, so matchers share it."""

    gazetteers: tuple[Gazetteer, ...]  # held, so the ids keying this entry stay theirs
    table: Mapping[str, Resolved]  # folded name -> the places it stands for
    regex: re.Pattern[str]


def _compile(gazetteers: tuple[Gazetteer, ...]) -> _Compiled:
    table: dict[str, dict[str, list[PlaceName]]] = {}
    trie = _Trie()
    for gaz in gazetteers:
        for n in gaz.names:
            table.setdefault(_key(n.text), {}).setdefault(gaz.name, []).append(n)
            trie.add(_units(n.text))
    contexts = {g.name: _context(g) for g in gazetteers}
    resolved = {key: _resolve(per_gaz, contexts) for key, per_gaz in table.items()}
    body = trie.pattern() if trie.children else r"(?!x)x"
    # Alphanumerics on either side mean the name is part of a longer word.
    regex = re.compile(rf"(?<![^\W_])(?:{body})(?![^\W_])", re.IGNORECASE)
    return _Compiled(gazetteers, MappingProxyType(resolved), regex)


# Gazetteers by path and bytes; matchers' tables and regexes by the gazetteers they hold.
_GAZETTEERS: ParsedFiles[Gazetteer] = ParsedFiles()
_COMPILED: ParsedFiles[_Compiled] = ParsedFiles(max_entries=16)


def _compiled(gazetteers: tuple[Gazetteer, ...]) -> _Compiled:
    """Built once for the same gazetteer objects (those `Gazetteer.load` shares): every runtime
    start builds the trie and its regular expression from the same files. Keyed by the
    objects' ids, not their (large) contents: the entry holds the gazetteers, so while it is
    kept no other object can take one of those ids."""
    return _COMPILED.get(tuple(id(g) for g in gazetteers), lambda: _compile(gazetteers))


class PlaceMatcher:
    """Finds gazetteer places named in a text, resolved to ward, locality and district."""

    def __init__(self, gazetteers: Sequence[Gazetteer]) -> None:
        self.gazetteers = tuple(gazetteers)
        compiled = _compiled(self.gazetteers)
        self._table = compiled.table
        self._regex = compiled.regex

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> PlaceMatcher:
        return cls([Gazetteer.load(p) for p in paths])

    @classmethod
    def from_settings(cls, settings: Settings, home: Path) -> PlaceMatcher:
        """The gazetteers named by the `places` setting, from `<home>/rules/places/`."""
        paths = []
        for name in (n.strip() for n in settings.places.split(",")):
            if not name:
                continue
            if not _GAZETTEER_NAME.match(name):
                raise GazetteerError(
                    f"setting places: {name!r} is not a gazetteer name (a-z, 0-9, '-', '_')"
                )
            paths.append(home / "rules" / "places" / f"{name}.yaml")
        return cls.from_files(paths)

    @property
    def areas(self) -> tuple[Place, ...]:
        return tuple(a for g in self.gazetteers for a in g.areas)

    def match(self, text: str) -> tuple[PlaceMatch, ...]:
        """Each place named in `text` once, in order of first mention."""
        out: list[PlaceMatch] = []
        seen: set[str] = set()
        last_end = -1  # where the previous name found ended, to tell a list of places
        for m in self._regex.finditer(text):
            start, end = m.span()
            entries, end = self._entries(text, start, end)
            prev_end, last_end = last_end, end
            if not entries or _in_handle(text, start):
                continue
            matched = text[start:end]
            for e in entries:
                assert e.place is not None
                if e.place.id in seen or self._other_sense(text, start, end, e, prev_end):
                    continue
                seen.add(e.place.id)
                out.append(e.place.to_match(matched))
        return tuple(out)

    def _entries(self, text: str, start: int, end: int) -> tuple[list[_Entry], int]:
        """The places the name at `start:end` stands for, and where it ends. A name written
        without the capitals it needs gives way to the longest shorter name inside it
        ("Bradford city": the cased not-place "Bradford City" is not it, "Bradford" is)."""
        stop = end
        while True:
            span = text[start:stop]
            shape: str | None = None
            accepted: list[_Entry] = []
            for e in self._table.get(_key(span), ()):
                if e.shape is not None:
                    shape = _shape(span) if shape is None else shape
                    if shape != e.shape:
                        continue
                accepted.append(e)
            if accepted:
                return [e for e in accepted if e.place is not None], stop
            stop = _word_end_before(text, start, stop)
            if stop <= start:
                return [], end

    def _other_sense(self, text: str, start: int, end: int, e: _Entry, prev_end: int) -> bool:
        """Whether the words around the name say it means something else here."""
        ctx = e.context
        # A road named after a town leads to it from elsewhere ("Keighley Road" in Shipley);
        # one named after a ward or neighbourhood ("Toller Lane") mostly runs through it.
        if ctx.street is not None and e.place is not None and e.place.ward is None:
            s = ctx.street.match(text, end)
            if s is not None and s.group(1)[0].isupper() == text[start].isupper():
                return True
        lo = max(0, start - _WINDOW)
        if ctx.titles and start and text[start - 1].isspace():
            words = text[lo:start].split()
            if words and words[-1].rstrip(".") in ctx.titles:
                return True
        if e.person and ctx.first_names and text[start].isupper():
            w = _PREV_WORD.search(text, lo, start)
            # A given name right before it ("Paul Heaton", "Billy Bob Thornton"), unless that
            # word was itself found as a place ("Ben Rhydding Heaton" is two places).
            if w is not None and w.group().rstrip() in ctx.first_names:
                if prev_end != w.start() + len(w.group().rstrip()):
                    return True
        if ctx.elsewhere is not None:
            q = ctx.elsewhere.match(text, end)
            if q is not None and not self._a_list(text, start, q.end(), ctx, prev_end):
                # Unless the qualifier begins one of our own longer names ("Bolton Woods").
                ours = self._regex.match(text, q.start("q"))
                if ours is None or ours.end() <= q.end():
                    return True
        return False

    def _a_list(self, text: str, start: int, q_end: int, ctx: _Context, prev_end: int) -> bool:
        """Whether the name and the place after it are items of a list of places."""
        after = _LIST_SEP.match(text, q_end)
        if after is not None:
            nxt = after.end()
            if self._regex.match(text, nxt) or (
                ctx.where is not None and ctx.where.match(text, nxt)
            ):
                return True
        lo = max(0, start - _WINDOW)
        sep = _LIST_BEFORE.search(text, lo, start)
        if sep is None:
            return False
        if prev_end >= 0 and text[prev_end : sep.start()].strip() == "":
            return True
        # "Southport, Rotherham, Bradford, Manchester": a capitalised word listed before it.
        if _CAPITAL_WORD_END.search(text, lo, sep.start()):
            return True
        return ctx.listed_before is not None and bool(ctx.listed_before.search(text, lo, start))


def _word_end_before(text: str, start: int, stop: int) -> int:
    """The end of the last whole word that ends before `stop`, after `start` (or `start`)."""
    i = stop - 1
    while i > start and (text[i].isalnum() or not text[i - 1].isalnum()):
        i -= 1
    return i


def _in_handle(text: str, start: int) -> bool:
    """Whether the name at `start` is part of an account handle (@heaton_history)."""
    i = start - 1
    while i >= 0 and (text[i].isalnum() or text[i] in "_."):
        i -= 1
    return i >= 0 and text[i] == "@"


def _resolve(per_gaz: Mapping[str, list[PlaceName]], contexts: Mapping[str, _Context]) -> Resolved:
    """What one folded name stands for: the most specific place in each gazetteer that has it,
    or that gazetteer's not-place.

    A name two districts share stands for both. A not-place only hides the name in its own
    gazetteer, so another district can still own the longer name.
    """
    out: list[_Entry] = []
    for gaz, names in per_gaz.items():
        ctx = contexts[gaz]
        real = [n for n in names if n.place is not None]
        if not real:
            out += [_Entry(None, _shape(n.text) if n.cased else None, False, ctx) for n in names]
            continue
        best = min(_SPECIFICITY[n.place.kind] for n in real if n.place is not None)
        for n in real:
            assert n.place is not None
            if _SPECIFICITY[n.place.kind] == best:
                shape = _shape(n.text) if n.cased else None
                out.append(_Entry(n.place, shape, n.person, ctx))
    return tuple(out)
