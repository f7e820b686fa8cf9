"""Place matching: posts naming a ward, neighbourhood or landmark are counted for the right ward,
and names inside other words or meaning somewhere else are not. The gazetteers' hand-made data
is checked against the ONS boundaries when those are present."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Settings
from monitor.ingest.places import Gazetteer, GazetteerError, PlaceMatcher

ROOT = Path(__file__).resolve().parents[2]
PLACES = ROOT / "rules" / "places"


@pytest.fixture(scope="module")
def matcher() -> PlaceMatcher:
    return PlaceMatcher.from_settings(Settings(places="bradford,kirklees"), ROOT)


def found(matcher: PlaceMatcher, text: str) -> list[tuple[str, str | None]]:
    return [(m.name, m.ward) for m in matcher.match(text)]


@pytest.mark.parametrize(
    ("text", "name", "kind", "ward", "locality"),
    [
        ("Police all over Girlington tonight", "Girlington", "neighbourhood", "Toller",
         "Bradford West"),
        ("heard there was trouble in lidget green", "Lidget Green", "neighbourhood",
         "Great Horton", "Bradford South"),
        ("Saltaire is rammed today", "Saltaire", "neighbourhood", "Shipley", "Shipley"),
        ("crowd outside the Interchange", "Bradford Interchange", "landmark", "City",
         "Bradford West"),
        ("Savile Town mosque open day", "Savile Town", "neighbourhood", "Dewsbury South",
         "Dewsbury"),
        ("HOLME WOOD again!!", "Holme Wood", "neighbourhood", "Tong", "Bradford South"),
        ("Manningham", "Manningham", "ward", "Manningham", "Bradford West"),
        ("Keighley", "Keighley", "locality", None, "Keighley"),
        ("Bradford", "Bradford", "district", None, None),
        ("Batley market", "Batley", "neighbourhood", None, "Batley and Spen"),
    ],
)  # fmt: skip
def test_a_named_place_resolves_to_its_ward_and_locality(
    matcher: PlaceMatcher, text: str, name: str, kind: str, ward: str | None, locality: str | None
) -> None:
    (m,) = matcher.match(text)
    assert (m.name, m.kind, m.ward, m.locality) == (name, kind, ward, locality)
    assert m.district in ("Bradford", "Kirklees")
    assert m.matched.casefold() in text.casefold()


@pytest.mark.parametrize(
    "text",
    [
        "Heatonville is a made-up name",
        "Earlsheatons and Bradfordshire do not exist",
        "Girlingtonian is not a word",
        "sitting idle all afternoon",  # "Idle" the village needs its capital
        "a craven excuse",  # Craven the ward needs "Craven ward"
        "the city centre was busy",  # which city?
        "Canterbury Cathedral",  # Kent
        "Heaton Moor and Heaton Park are in Greater Manchester",
        "Bradford on Avon and Bradford-on-Avon are in Wiltshire",
        "Chapel Allerton is in Leeds",
    ],
)
def test_names_inside_other_words_or_meaning_elsewhere_do_not_match(
    matcher: PlaceMatcher, text: str
) -> None:
    assert matcher.match(text) == ()


def test_word_boundaries_allow_punctuation_possessives_and_hashtags(matcher: PlaceMatcher) -> None:
    assert found(matcher, "#Heaton, Heaton's, (Heaton) heaton!") == [("Heaton", "Heaton")]
    assert found(matcher, "#BradfordMoor #LowMoor #holmewood") == [
        ("Bradford Moor", "Bradford Moor"),
        ("Low Moor", "Wyke"),
        ("Holme Wood", "Tong"),
    ]


def test_the_longest_name_wins(matcher: PlaceMatcher) -> None:
    assert found(matcher, "Bradford Moor") == [("Bradford Moor", "Bradford Moor")]
    assert found(matcher, "Hanging Heaton") == [("Hanging Heaton", "Batley East")]
    assert found(matcher, "Clayton West") == [("Clayton West", "Denby Dale")]
    assert found(matcher, "Bradford city centre") == [("City", "City")]
    assert found(matcher, "Keighley town centre") == [("Keighley town centre", "Keighley Central")]
    # ... and the shorter name still matches on its own elsewhere in the post.
    assert found(matcher, "Clayton West, not Clayton") == [
        ("Clayton West", "Denby Dale"),
        ("Clayton", "Clayton and Fairweather Green"),
    ]


def test_aliases_misspellings_and_spelling_variants(matcher: PlaceMatcher) -> None:
    # Demonyms are listed as aliases; other words that merely start with a name are not.
    assert found(matcher, "proud Bradfordians") == [("Bradford", None)]
    assert found(matcher, "Keithley") == [("Keighley", None)]
    assert found(matcher, "Huddersfeild") == [("Huddersfield", None)]
    assert found(matcher, "Maningham") == [("Manningham", "Manningham")]
    assert found(matcher, "Bolton & Undercliffe") == [
        ("Bolton and Undercliffe", "Bolton and Undercliffe")
    ]
    assert found(matcher, "Saint George’s Square") == [("St George's Square", "Newsome")]
    assert found(matcher, "St. Georges Square") == [("St George's Square", "Newsome")]
    # In another script: an Urdu post about the district counts for it (fictional text).
    assert found(matcher, "بریڈفورڈ میں کل رات جھگڑا ہوا") == [("Bradford", None)]


def test_case_sensitive_names_need_their_capitals(matcher: PlaceMatcher) -> None:
    assert found(matcher, "fight in Idle last night") == [("Idle", "Idle and Thackley")]
    assert found(matcher, "fight in idle last night") == []
    assert found(matcher, "City Park fountains") == [("City Park", "City")]
    assert found(matcher, "a city park somewhere") == []


def test_each_place_is_reported_once_in_order_of_first_mention(matcher: PlaceMatcher) -> None:
    text = "Girlington, then Toller, then Girlington again, then Dewsbury"
    assert [m.name for m in matcher.match(text)] == ["Girlington", "Toller", "Dewsbury"]


def test_places_setting_limits_the_gazetteers() -> None:
    only_kirklees = PlaceMatcher.from_settings(Settings(places="kirklees"), ROOT)
    assert only_kirklees.match("Girlington") == ()
    assert [m.name for m in only_kirklees.match("Dewsbury")] == ["Dewsbury"]
    assert PlaceMatcher.from_settings(Settings(places=""), ROOT).match("Bradford") == ()


def test_bad_gazetteer_names_in_the_setting_are_refused() -> None:
    with pytest.raises(GazetteerError, match="not a gazetteer name"):
        PlaceMatcher.from_settings(Settings(places="../secrets"), ROOT)
    with pytest.raises(GazetteerError, match="not found"):
        PlaceMatcher.from_settings(Settings(places="atlantis"), ROOT)


def test_a_command_meeting_a_bad_gazetteer_says_so_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import cli

    posts = tmp_path / "posts.jsonl"
    posts.write_text("", encoding="utf-8")
    env = {
        "MONITOR_HOME": str(ROOT),
        "MONITOR_PLACES": "atlantis",
        "MONITOR_CLASSIFIER": "keyword",
        "MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
    }
    done = CliRunner().invoke(cli, ["import", str(posts)], env=env)
    assert done.exit_code == 1 and "atlantis" in done.output and "not found" in done.output
    assert not isinstance(done.exception, GazetteerError), "a traceback, not one line"


# --- gazetteer validation ----------------------------------------------------------------------

GOOD = """
district: {name: Testshire, code: E08999999}
localities:
  - {name: North, code: E14999991, wards: [Ash, Beech]}
wards:
  - {name: Ash, code: E05999991}
  - {name: Beech, code: E05999992}
places:
  - {name: Ashgrove, kind: neighbourhood, ward: Ash}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "testshire.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_minimal_gazetteer_loads(tmp_path: Path) -> None:
    m = PlaceMatcher.from_files([write(tmp_path, GOOD)])
    (hit,) = m.match("trouble at ashgrove")
    assert hit.place_id == "testshire/hood/ashgrove"
    assert (hit.ward, hit.locality, hit.district) == ("Ash", "North", "Testshire")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("ward: Ash}", "ward: Oak}"), "unknown ward 'Oak'"),
        (("kind: neighbourhood", "kind: village"), "kind must be one of"),
        (("wards: [Ash, Beech]", "wards: [Ash]"), "ward is in no locality"),
        (("{name: Ash, code: E05999991}", "{name: Ash, code: E05999991, colour: red}"),
         "unknown key 'colour'"),
        (("places:\n", "places:\n  - {name: Ashgrove, kind: landmark, ward: Beech}\n"),
         "names both"),
        (("code: E05999992", "code: E05999991"), "appears twice"),
        (("district: {name: Testshire, code: E08999999}", "district: Testshire"),
         "expected a mapping"),
        (("places:", "not_places: [Ashgrove]\nplaces:"), "also names a place"),
        (("name: Ash, code", "code"), "'name' is required"),
    ],
)  # fmt: skip
def test_a_bad_gazetteer_is_refused_with_file_entry_and_reason(
    tmp_path: Path, change: tuple[str, str], reason: str
) -> None:
    assert change[0] in GOOD
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(GazetteerError, match=reason) as info:
        Gazetteer.load(path)
    assert str(path) in str(info.value)


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GazetteerError, match="not valid YAML"):
        Gazetteer.load(write(tmp_path, "district: [unclosed"))


def test_a_gazetteer_edited_in_place_is_read_anew_by_the_next_matcher(tmp_path: Path) -> None:
    """Gazetteers (and the matcher built from them) are kept for the process by their bytes:
    an edit is seen even when the file keeps its size and modification time."""
    path = write(tmp_path, GOOD)
    first = PlaceMatcher.from_files([path])
    assert PlaceMatcher.from_files([path]).gazetteers[0] is first.gazetteers[0]  # parsed once
    before = path.stat()
    path.write_text(textwrap.dedent(GOOD).replace("Ashgrove", "Ashfield"), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    edited = PlaceMatcher.from_files([path])
    assert [m.place_id for m in edited.match("at ashfield, not ashgrove")] == [
        "testshire/hood/ashfield"
    ]
    assert [m.place_id for m in first.match("at ashfield, not ashgrove")] == [
        "testshire/hood/ashgrove"
    ]


# --- the shipped gazetteers against the ONS boundaries -----------------------------------------


def _rings(geometry: dict[str, Any]) -> list[list[list[list[float]]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    return list(geometry["coordinates"])


def _inside(lon: float, lat: float, geometry: dict[str, Any]) -> bool:
    """Even-odd ray casting over every ring (holes included)."""
    for polygon in _rings(geometry):
        inside = False
        for ring in polygon:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
                if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                    inside = not inside
        if inside:
            return True
    return False


def _centroid(geometry: dict[str, Any]) -> tuple[float, float]:
    area = cx = cy = 0.0
    for polygon in _rings(geometry):
        ring = polygon[0]
        for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
            cross = x1 * y2 - x2 * y1
            area += cross
            cx += (x1 + x2) * cross
            cy += (y1 + y2) * cross
    return cx / (3 * area), cy / (3 * area)


@pytest.mark.parametrize("district", ["bradford", "kirklees"])
def test_wards_codes_localities_and_places_agree_with_the_boundaries(
    shared_data: Path, district: str
) -> None:
    geo = shared_data / "geo"
    wards = json.loads((geo / f"{district}-wards-2013.geojson").read_text())["features"]
    seats = json.loads((geo / f"{district}-constituencies-2013.geojson").read_text())["features"]
    gaz = Gazetteer.load(PLACES / f"{district}.yaml")

    official = {f["properties"]["WD13CD"]: f["properties"]["WD13NM"] for f in wards}
    assert {w.code: w.name for w in gaz.wards} == official
    assert {loc.code: loc.name for loc in gaz.localities} == {
        f["properties"]["PCON13CD"]: f["properties"]["PCON13NM"] for f in seats
    }
    shape = {f["properties"]["WD13NM"]: f["geometry"] for f in wards}
    for ward in gaz.wards:
        lon, lat = _centroid(shape[ward.name])
        (seat,) = [f for f in seats if _inside(lon, lat, f["geometry"])]
        assert ward.locality == seat["properties"]["PCON13NM"], ward.name
    checked = 0
    for place in gaz.places:
        if place.at is not None and place.ward is not None:
            lat, lon = place.at
            assert _inside(lon, lat, shape[place.ward]), f"{place.name} is not in {place.ward}"
            checked += 1
    assert checked >= 40
