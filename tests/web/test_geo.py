"""Ward boundaries drawn from GeoJSON: north up, longitude shrunk by cos(latitude), names
kept, bad files refused with a reason; the Bradford boundaries match the gazetteer's wards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.web import geo

SQUARE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"WD13NM": "North", "WD13CD": "E1"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-1.8, 53.81], [-1.7, 53.81], [-1.7, 53.82], [-1.8, 53.82]]],
            },
        },
        {
            "type": "Feature",
            "properties": {"name": "South"},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [[[[-1.8, 53.79], [-1.7, 53.79], [-1.7, 53.80], [-1.8, 53.80]]]],
            },
        },
    ],
}


def test_projection_keeps_north_up_and_the_true_shape() -> None:
    areas = geo.parse(SQUARE)
    height, shapes = geo.project(areas, width=400, pad=0)
    north, south = shapes
    assert (north.name, north.code, south.name) == ("North", "E1", "South")
    assert north.label_y < south.label_y  # north is drawn above
    # 0.1° of longitude at 53.8°N is about 0.59 of 0.1° of latitude: the map is not stretched.
    assert height == pytest.approx(400 * 0.03 / (0.1 * 0.5906), rel=0.01)
    assert north.d.startswith("M") and north.d.endswith("Z")


def test_bad_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(geo.BoundaryError, match="FeatureCollection"):
        geo.parse({"type": "Feature"})
    nameless = {"type": "FeatureCollection", "features": [{"properties": {}, "geometry": {}}]}
    with pytest.raises(geo.BoundaryError, match="no name property"):
        geo.parse(nameless)
    broken = tmp_path / "wards.geojson"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(geo.BoundaryError, match=str(broken)):
        geo.load_map(broken)


def test_the_attribution_is_read_from_the_licence_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "w.geojson").write_text(json.dumps(SQUARE), encoding="utf-8")
    (tmp_path / "LICENCE.txt").write_text("Contains OS data © Crown copyright\n-----\n", "utf-8")
    the_map = geo.load_map(tmp_path / "w.geojson")
    assert the_map.attribution == "Contains OS data © Crown copyright"


def test_bradford_wards_match_the_gazetteer(shared_data: Path) -> None:
    import yaml

    the_map = geo.load_map(shared_data / "geo" / "bradford-wards-2013.geojson")
    names = {s.name for s in the_map.shapes}
    assert len(names) == 30
    assert "Open Government Licence" in the_map.attribution
    gazetteer = yaml.safe_load(
        (Path(__file__).parents[2] / "rules" / "places" / "bradford.yaml").read_text("utf-8")
    )
    text = json.dumps(gazetteer)
    missing = [n for n in names if n not in text]
    assert not missing, f"wards on the map the gazetteer does not know: {missing}"
