"""Place gazetteers, and the matcher that finds the places a post names.

A gazetteer (`rules/places/<name>.yaml`, format in that folder's README) lists one district's
wards with their ONS codes, its localities and the wards in each, and hand-picked
neighbourhoods and landmarks resolved to their ward. `PlaceMatcher` compiles every name of every
gazetteer into one regular expression shaped as a trie, so a post is scanned once in C however
many names there are, and at each position the longest name wins ("Bradford Moor" over
"Bradford", "Hanging Heaton" over "Heaton"). Names match case-insensitively and only as whole
words: "Heaton" is not found in "Heatonville" or "Earlsheaton".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitor.config import Settings
from monitor.types import PlaceMatch

PLACE_KINDS = ("neighbourhood", "landmark")
# When one gazetteer gives the same name to places of different kinds (Shipley is a ward and
# a locality), the most specific one takes it: its match still carries the locality.
_SPECIFICITY = {"ward": 0, "neighbourhood": 1, "landmark": 1, "locality": 2, "district": 3}
_GAZETTEER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MATCHED_MAX = 200  # place_matches.matched is String(200)


class GazetteerError(ValueError):
    """A gazetteer that cannot be used; the message names the file, the entry and the reason."""


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


@dataclass(frozen=True, slots=True)
class Gazetteer:
    name: str
    path: Path
    district: Place
    localities: tuple[Place, ...]
    wards: tuple[Place, ...]
    places: tuple[Place, ...]  # neighbourhoods and landmarks
    names: tuple[PlaceName, ...]

    @property
    def areas(self) -> tuple[Place, ...]:
        """The district, its localities and its wards: the areas levels are kept for."""
        return (self.district, *self.localities, *self.wards)

    @classmethod
    def load(cls, path: Path) -> Gazetteer:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GazetteerError(f"{path}: gazetteer file not found") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise GazetteerError(f"{path}: not valid YAML: {exc}") from None
        return _GazetteerReader(path).read(data)


# --- the YAML reader -------------------------------------------------------------------------

_NAME_KEYS = {"name", "aliases", "cased_aliases", "match_name", "match_case"}
_KEYS = {
    "top": {"district", "localities", "wards", "places", "not_places"},
    "district": _NAME_KEYS | {"code"},
    "locality": _NAME_KEYS | {"code", "wards"},
    "ward": _NAME_KEYS | {"code"},
    "place": _NAME_KEYS | {"kind", "ward", "locality", "at"},
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")


class _GazetteerReader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.gaz = path.stem

    def fail(self, where: str, reason: str) -> GazetteerError:
        return GazetteerError(f"{self.path}: {where}: {reason}")

    def mapping(self, value: object, where: str, kind: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(value) - _KEYS[kind])
        if unknown:
            allowed = ", ".join(sorted(_KEYS[kind]))
            raise self.fail(where, f"unknown key {unknown[0]!r} (allowed: {allowed})")
        return value

    def text(self, entry: Mapping[str, Any], key: str, where: str) -> str | None:
        value = entry.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"{key!r} must be a non-empty string")
        return value.strip()

    def required(self, entry: Mapping[str, Any], key: str, where: str) -> str:
        value = self.text(entry, key, where)
        if value is None:
            raise self.fail(where, f"{key!r} is required")
        return value

    def strings(self, entry: Mapping[str, Any], key: str, where: str) -> list[str]:
        value = entry.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(where, f"{key!r} must be a list of non-empty strings")
        return [v.strip() for v in value]

    def flag(self, entry: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = entry.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(where, f"{key!r} must be true or false")
        return value

    def names_of(self, entry: Mapping[str, Any], place: Place, where: str) -> list[PlaceName]:
        out: list[PlaceName] = []
        if self.flag(entry, "match_name", where, True):
            out.append(PlaceName(place.name, place, self.flag(entry, "match_case", where, False)))
        out += [PlaceName(a, place) for a in self.strings(entry, "aliases", where)]
        out += [PlaceName(a, place, True) for a in self.strings(entry, "cased_aliases", where)]
        if not out:
            raise self.fail(where, "match_name is false and there are no aliases to match")
        for n in out:
            if not _key(n.text):
                raise self.fail(where, f"name {n.text!r} has no letters or digits")
        return out

    def entries(self, data: Mapping[str, Any], key: str) -> list[object]:
        value = data.get(key) or []
        if not isinstance(value, list):
            raise self.fail(key, "expected a list")
        return value

    def read(self, data: object) -> Gazetteer:
        top = self.mapping(data, "top level", "top")
        names: list[PlaceName] = []

        d = self.mapping(top.get("district"), "district", "district")
        district_name = self.required(d, "name", "district")
        district = Place(
            id=f"{self.gaz}/district",
            name=district_name,
            kind="district",
            ward=None,
            locality=None,
            district=district_name,
            code=self.text(d, "code", "district"),
        )
        names += self.names_of(d, district, "district")

        ward_locality: dict[str, str] = {}
        localities: list[Place] = []
        locality_entries: list[tuple[Mapping[str, Any], Place, str]] = []
        for i, raw in enumerate(self.entries(top, "localities")):
            where = f"localities[{i}]"
            e = self.mapping(raw, where, "locality")
            name = self.required(e, "name", where)
            where = f"{where} ({name})"
            code = self.text(e, "code", where)
            loc = Place(
                id=f"{self.gaz}/locality/{code or _slug(name)}",
                name=name,
                kind="locality",
                ward=None,
                locality=name,
                district=district_name,
                code=code,
            )
            for member in self.strings(e, "wards", where):
                if member in ward_locality:
                    raise self.fail(
                        where, f"ward {member!r} is already in locality {ward_locality[member]!r}"
                    )
                ward_locality[member] = name
            localities.append(loc)
            locality_entries.append((e, loc, where))
        locality_names = {loc.name for loc in localities}

        wards: list[Place] = []
        ward_entries: list[tuple[Mapping[str, Any], Place, str]] = []
        for i, raw in enumerate(self.entries(top, "wards")):
            where = f"wards[{i}]"
            e = self.mapping(raw, where, "ward")
            name = self.required(e, "name", where)
            where = f"{where} ({name})"
            code = self.required(e, "code", where)
            if localities and name not in ward_locality:
                raise self.fail(where, "ward is in no locality's 'wards' list")
            wards.append(
                Place(
                    id=f"{self.gaz}/ward/{code}",
                    name=name,
                    kind="ward",
                    ward=name,
                    locality=ward_locality.get(name),
                    district=district_name,
                    code=code,
                )
            )
            ward_entries.append((e, wards[-1], where))
        if not wards:
            raise self.fail("wards", "a gazetteer needs at least one ward")
        ward_names = {w.name for w in wards}
        missing = sorted(set(ward_locality) - ward_names)
        if missing:
            raise self.fail("localities", f"ward {missing[0]!r} is not in 'wards'")
        self.unique([w.name for w in wards], "wards")
        self.unique([w.id for w in wards], "wards (codes)")
        self.unique([loc.name for loc in localities], "localities")
        for e, place, where in (*locality_entries, *ward_entries):
            names += self.names_of(e, place, where)

        places: list[Place] = []
        for i, raw in enumerate(self.entries(top, "places")):
            where = f"places[{i}]"
            e = self.mapping(raw, where, "place")
            name = self.required(e, "name", where)
            where = f"{where} ({name})"
            kind = self.required(e, "kind", where)
            if kind not in PLACE_KINDS:
                raise self.fail(where, f"kind must be one of {', '.join(PLACE_KINDS)}")
            ward = self.text(e, "ward", where)
            locality = self.text(e, "locality", where)
            if ward is not None and ward not in ward_names:
                raise self.fail(where, f"unknown ward {ward!r}")
            if locality is not None and locality not in locality_names:
                raise self.fail(where, f"unknown locality {locality!r}")
            if ward is not None and locality is not None and ward_locality.get(ward) != locality:
                raise self.fail(where, f"ward {ward!r} is not in locality {locality!r}")
            if ward is None and locality is None:
                raise self.fail(where, "give the 'ward' it lies in (or its 'locality')")
            place = Place(
                id=f"{self.gaz}/{'hood' if kind == 'neighbourhood' else kind}/{_slug(name)}",
                name=name,
                kind=kind,
                ward=ward,
                locality=locality or (ward_locality.get(ward) if ward else None),
                district=district_name,
                at=self.point(e.get("at"), where),
            )
            places.append(place)
            names += self.names_of(e, place, where)
        self.unique([p.id for p in places], "places")

        for i, raw in enumerate(self.entries(top, "not_places")):
            if not isinstance(raw, str) or not _key(raw):
                raise self.fail(f"not_places[{i}]", "must be a name")
            names.append(PlaceName(raw.strip(), None))

        self.check_names(names)
        return Gazetteer(
            name=self.gaz,
            path=self.path,
            district=district,
            localities=tuple(localities),
            wards=tuple(wards),
            places=tuple(places),
            names=tuple(names),
        )

    def point(self, value: object, where: str) -> tuple[float, float] | None:
        if value is None:
            return None
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        )
        if not ok or not (-90 <= value[0] <= 90 and -180 <= value[1] <= 180):  # type: ignore[index]
            raise self.fail(where, "'at' must be [latitude, longitude]")
        return (float(value[0]), float(value[1]))  # type: ignore[index]

    def unique(self, values: Sequence[str], where: str) -> None:
        seen: set[str] = set()
        for v in values:
            if v in seen:
                raise self.fail(where, f"{v!r} appears twice")
            seen.add(v)

    def check_names(self, names: Iterable[PlaceName]) -> None:
        by_key: dict[str, list[PlaceName]] = {}
        for n in names:
            by_key.setdefault(_key(n.text), []).append(n)
        for group in by_key.values():
            places = {n.place.id: n.place for n in group if n.place is not None}
            if places and any(n.place is None for n in group):
                raise self.fail("not_places", f"{group[0].text!r} also names a place")
            ranked = sorted(places.values(), key=lambda p: _SPECIFICITY[p.kind])
            if len(ranked) > 1 and _SPECIFICITY[ranked[0].kind] == _SPECIFICITY[ranked[1].kind]:
                raise self.fail(
                    "names",
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
            units.extend(re.escape(ch) for ch in token)
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

    def depth(self) -> int:
        return 1 + max((c.depth() for c in self.children.values()), default=0)

    def pattern(self) -> str:
        # Deeper branches first, and an optional tail rather than an alternation with the
        # empty string, so that at any position the regex takes the longest name it can.
        branches = sorted(self.children.items(), key=lambda kv: -kv[1].depth())
        alts = [unit + child.pattern() for unit, child in branches]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if self.terminal:
            return f"(?:{body})?"
        return body


class PlaceMatcher:
    """Finds gazetteer places named in a text, resolved to ward, locality and district."""

    def __init__(self, gazetteers: Sequence[Gazetteer]) -> None:
        self.gazetteers = tuple(gazetteers)
        table: dict[str, dict[str, list[PlaceName]]] = {}
        trie = _Trie()
        for gaz in self.gazetteers:
            for n in gaz.names:
                table.setdefault(_key(n.text), {}).setdefault(gaz.name, []).append(n)
                trie.add(_units(n.text))
        self._table: dict[str, tuple[tuple[Place, str | None], ...]] = {
            key: _resolve(per_gaz) for key, per_gaz in table.items()
        }
        body = trie.pattern() if trie.children else r"(?!x)x"
        # Alphanumerics on either side mean the name is part of a longer word.
        self._regex = re.compile(rf"(?<![^\W_])(?:{body})(?![^\W_])", re.IGNORECASE)

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
        for m in self._regex.finditer(text):
            matched = m.group()
            shape: str | None = None
            for place, cased in self._table.get(_key(matched), ()):
                if cased is not None:
                    shape = _shape(matched) if shape is None else shape
                    if shape != cased:
                        continue
                if place.id not in seen:
                    seen.add(place.id)
                    out.append(place.to_match(matched))
        return tuple(out)


def _resolve(per_gaz: Mapping[str, list[PlaceName]]) -> tuple[tuple[Place, str | None], ...]:
    """The places one folded name stands for: the most specific in each gazetteer that has it.

    A name two districts share stands for both. A not-place only hides the name in its own
    gazetteer, so another district can still own the longer name.
    """
    out: list[tuple[Place, str | None]] = []
    for names in per_gaz.values():
        real = [n for n in names if n.place is not None]
        if not real:
            continue
        best = min(_SPECIFICITY[n.place.kind] for n in real if n.place is not None)
        for n in real:
            assert n.place is not None
            if _SPECIFICITY[n.place.kind] == best:
                out.append((n.place, _shape(n.text) if n.cased else None))
    return tuple(out)
