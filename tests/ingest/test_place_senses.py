"""A place name written meaning something else is not counted for the place: a road named after
a town, a person, the same name elsewhere said with where, a club, an account handle. Each check
is configured in the gazetteer, so a council writing its own gets the same protections; the
bundled gazetteers are scored on the fictional suite in tests/fixtures/places/suite.yaml."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.ingest.places import Gazetteer, GazetteerError, PlaceMatcher
from tests.ingest import place_suite

# A district of fictional names, written as any council would write its own.
TESTSHIRE = """
district: {name: Ashby, code: E08999999}
localities:
  - {name: Ashby North, code: E14999991, wards: [Oakley, Elmstead]}
wards:
  - {name: Oakley, code: E05999991, person_name: true}
  - {name: Elmstead, code: E05999992}
places:
  - {name: Marlow, kind: neighbourhood, ward: Elmstead, person_name: true}
  - {name: Oakley Lane, kind: neighbourhood, ward: Oakley}
  - {name: Ashby Rovers Ground, kind: landmark, ward: Oakley}
cased_not_places: [Ashby Rovers]
elsewhere: [Newcastle, Kent, Leeds]
"""


@pytest.fixture
def ashby(tmp_path: Path) -> PlaceMatcher:
    path = tmp_path / "ashby.yaml"
    path.write_text(textwrap.dedent(TESTSHIRE), encoding="utf-8")
    return PlaceMatcher.from_files([path])


def names(matcher: PlaceMatcher, text: str) -> list[str]:
    return [m.name for m in matcher.match(text)]


def test_a_road_named_after_the_town_is_not_the_town(ashby: PlaceMatcher) -> None:
    assert names(ashby, "Crash on Ashby Road, avoid") == []
    assert names(ashby, "queues on ashby rd again") == []
    assert names(ashby, "Ashby Road, Elmstead is shut") == ["Elmstead"]
    # A road named after a ward mostly runs through it; a listed street is a place.
    assert names(ashby, "Works on Elmstead Lane") == ["Elmstead"]
    assert names(ashby, "Police on Oakley Lane") == ["Oakley Lane"]
    # "road" as a noun after the capitalised name is not a street's name.
    assert names(ashby, "Ashby road safety week starts") == ["Ashby"]


def test_a_title_or_a_first_name_makes_it_a_person(ashby: PlaceMatcher) -> None:
    assert names(ashby, "Mr Elmstead next door") == []
    assert names(ashby, "thanks to Cllr. Oakley for coming") == []
    assert names(ashby, "RIP Bradley Marlow, a true gent") == []
    assert names(ashby, "Billy Bob Oakley was great in that") == []
    # Titles need their capital: "miss" is a verb.
    assert names(ashby, "I miss Elmstead") == ["Elmstead"]
    # A given name opening a sentence is still one.
    assert names(ashby, "Paul Marlow's new album is out") == []
    # Any other capitalised word is not a given name: a verb, a place, a shop, a church or a
    # qualifier naming a place's branch or part.
    assert names(ashby, "Lovely day. Visit Marlow!") == ["Marlow"]
    assert names(ashby, "Police in Elmstead Marlow tonight") == ["Elmstead", "Marlow"]
    assert names(ashby, "Fight outside Tesco Marlow, police there now") == ["Marlow"]
    assert names(ashby, "Graffiti on St Barnabas Oakley again") == ["Oakley"]
    assert names(ashby, "Trouble in Upper Oakley tonight") == ["Oakley"]
    # Names not marked person_name are not checked for first names.
    assert names(ashby, "we met Bradley Elmstead") == ["Elmstead"]


def test_the_same_name_elsewhere_said_with_where_is_not_ours(ashby: PlaceMatcher) -> None:
    assert names(ashby, "Oakley, Newcastle has great cafes") == []
    assert names(ashby, "houses near Marlow in Kent") == []
    assert names(ashby, "Marlow (Kent) flooded") == []
    assert names(ashby, "Oakley, Ashby: bins not collected") == ["Oakley", "Ashby"]
    # A list of places is not a name said with where it is.
    assert names(ashby, "Vigils in Ashby, Leeds and Newcastle") == ["Ashby"]
    assert names(ashby, "Vigils in Kent, Ashby, Newcastle") == ["Ashby"]
    assert names(ashby, "Riots in Southport, Ashby, Newcastle") == ["Ashby"]
    assert names(ashby, "Protests in Ashby and Newcastle") == ["Ashby"]


def test_a_cased_not_place_hides_only_the_name_as_capitalised(ashby: PlaceMatcher) -> None:
    assert names(ashby, "Ashby Rovers 2-1 away") == []
    assert names(ashby, "#AshbyRovers sign a striker") == []
    assert names(ashby, "ashby rovers fans are in town") == ["Ashby"]
    assert names(ashby, "fight at the Ashby Rovers Ground") == ["Ashby Rovers Ground"]


def test_a_name_inside_an_account_handle_is_not_a_place(ashby: PlaceMatcher) -> None:
    assert names(ashby, "thanks @elmstead_history for this") == []
    assert names(ashby, "@Ashby.News any word?") == []
    assert names(ashby, "#Elmstead meeting tonight") == ["Elmstead"]


def test_the_checks_can_be_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "ashby.yaml"
    path.write_text(
        textwrap.dedent(TESTSHIRE) + "street_words: []\nperson_titles: []\nfirst_names: []\n",
        encoding="utf-8",
    )
    m = PlaceMatcher.from_files([path])
    assert names(m, "Crash on Ashby Road") == ["Ashby"]
    assert names(m, "Mr Elmstead next door") == ["Elmstead"]
    assert names(m, "RIP Bradley Marlow") == ["Marlow"]


def test_a_council_gives_its_own_first_names(tmp_path: Path) -> None:
    path = tmp_path / "ashby.yaml"
    path.write_text(textwrap.dedent(TESTSHIRE) + "first_names: [Siobhan]\n", encoding="utf-8")
    m = PlaceMatcher.from_files([path])
    assert names(m, "Siobhan Marlow won the race") == []
    assert names(m, "RIP Bradley Marlow") == ["Marlow"]  # the list replaces the default


def test_an_empty_context_word_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ashby.yaml"
    text = textwrap.dedent(TESTSHIRE).replace("elsewhere: [", "elsewhere: ['--', ")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GazetteerError, match="must be a word or name"):
        Gazetteer.load(path)


# Floors from tests/fixtures/places/suite.yaml (before these checks, precision was elsewhere
# 0.55, street 0.35, sense 0.30). What is left wrong is listed in rules/places/README.md.
FLOORS = {
    "elsewhere": (0.94, 1.00),
    "street": (0.53, 1.00),
    "sense": (0.95, 1.00),
    "scale": (1.00, 0.75),
}


@pytest.mark.parametrize("phenomenon", sorted(FLOORS))
def test_the_bundled_gazetteers_on_the_suite(phenomenon: str) -> None:
    scores = place_suite.score(place_suite.default_matcher(), place_suite.load_cases())
    s = scores[phenomenon]
    precision, recall = FLOORS[phenomenon]
    assert round(s.precision, 2) >= precision and round(s.recall, 2) >= recall, s.wrong
