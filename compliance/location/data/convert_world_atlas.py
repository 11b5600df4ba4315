"""One-off converter: world-atlas TopoJSON (Natural Earth admin-0) → countries.geojson.

Run once by hand when the boundary data is refreshed; nothing runs it at run time:

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python compliance/location/data/convert_world_atlas.py package/countries-50m.json \
        compliance/location/data/countries.geojson

It decodes the quantized, delta-encoded arcs, maps ISO 3166-1 numeric ids to
alpha-2 (the codes the inventory uses), repairs the few rings Natural Earth cuts
at the antimeridian (Russia, Fiji, Antarctica), merges features that share a
code, simplifies by 0.02° (~2 km) and rounds to 3 decimals (~110 m): far finer
than any delay bound (1 ms of round trip is 150 km of radius).
"""
from __future__ import annotations

import json
import sys

import pycountry
from shapely.geometry import MultiPolygon, mapping, shape
from shapely.ops import unary_union
from shapely.validation import make_valid

# Features Natural Earth draws without an ISO numeric id: the ISO alpha-2 the
# inventory would use for them, or None to drop (disputed areas with no code).
UNNUMBERED = {"Kosovo": "XK", "N. Cyprus": "CY", "Somaliland": "SO", "Indian Ocean Ter.": "AU", "Siachen Glacier": None}


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    scale_x, scale_y = topology["transform"]["scale"]
    shift_x, shift_y = topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((round(x * scale_x + shift_x, 3), round(y * scale_y + shift_y, 3)))
        arcs.append(points)
    return arcs


def ring(arcs: list, indexes: list[int]) -> list[tuple[float, float]]:
    points: list = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc[1:] if points else arc)
    return points


def polygons(geometry: dict, arcs: list) -> list:
    if geometry["type"] == "Polygon":
        parts = [geometry["arcs"]]
    elif geometry["type"] == "MultiPolygon":
        parts = geometry["arcs"]
    else:
        return []
    return [[ring(arcs, r) for r in polygon] for polygon in parts]


def iso2(geometry: dict) -> str | None:
    name = geometry["properties"]["name"]
    if "id" not in geometry:
        return UNNUMBERED[name]
    country = pycountry.countries.get(numeric=geometry["id"])
    if country is None:
        raise SystemExit(f"no ISO alpha-2 for {geometry['id']} {name}")
    return country.alpha_2


def _rounded(value):
    if isinstance(value, float):
        return round(value, 3)
    return [_rounded(item) for item in value]


def convert(source: str, target: str) -> None:
    topology = json.load(open(source))
    arcs = decode_arcs(topology)
    shapes: dict[str, list] = {}
    names: dict[str, str] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        code = iso2(geometry)
        parts = polygons(geometry, arcs)
        if code is None or not parts:
            continue
        shapes.setdefault(code, []).append(make_valid(shape({"type": "MultiPolygon", "coordinates": parts})))
        names.setdefault(code, geometry["properties"]["name"])
    features = []
    for code in sorted(shapes):
        merged = unary_union(shapes[code]).simplify(0.02, preserve_topology=True)
        polygons_only = [g for g in getattr(merged, "geoms", [merged]) if g.geom_type == "Polygon"]
        coordinates = mapping(MultiPolygon(polygons_only))["coordinates"]
        features.append({"type": "Feature", "properties": {"iso2": code, "name": names[code]},
                         "geometry": {"type": "MultiPolygon", "coordinates": _rounded(coordinates)}})
    with open(target, "w") as out:
        json.dump({"type": "FeatureCollection", "features": features}, out, separators=(",", ":"))


if __name__ == "__main__":
    convert(*sys.argv[1:3])
