"""A server-rendered map: country outlines, landmark discs and the feasible region as one SVG.

Plate carrée (x = longitude, y = −latitude), cropped to what matters, so nothing
is fetched from a tile server and the picture is exactly the geometry the
findings used.  Pure (shapely + the standard library), so it is testable alone.
"""
from __future__ import annotations

from html import escape

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from .bounds import WORLD, CountryAtlas, Disc


def _rings(geometry: BaseGeometry):
    for polygon in getattr(geometry, "geoms", [geometry]):
        if polygon.geom_type == "Polygon":
            yield polygon.exterior.coords
            yield from (interior.coords for interior in polygon.interiors)
        elif polygon.geom_type in ("MultiPolygon", "GeometryCollection"):
            for ring in _rings(polygon):
                yield ring


def _path(geometry: BaseGeometry, project) -> str:
    parts = []
    for ring in _rings(geometry):
        points = [project(x, y) for x, y in ring]
        if len(points) >= 3:
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z")
    return "".join(parts)


def view_box(region: BaseGeometry, points: list[tuple[float, float]]) -> BaseGeometry:
    """What to show: the region, the landmarks and the site, with a margin; at least 6° across."""
    lons = [lon for _, lon in points] + ([] if region.is_empty else [region.bounds[0], region.bounds[2]])
    lats = [lat for lat, _ in points] + ([] if region.is_empty else [region.bounds[1], region.bounds[3]])
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    pad = max(3.0, 0.1 * max(east - west, north - south))
    return box(west - pad, south - pad, east + pad, north + pad).intersection(WORLD)


def render_map(*, atlas: CountryAtlas, discs: list[Disc], region: BaseGeometry, likely_region: BaseGeometry,
               site: tuple[str, float, float] | None, width: int = 800) -> str:
    points = [(d.latitude, d.longitude) for d in discs] + ([site[1:]] if site else [])
    frame = view_box(region, points)
    west, south, east, north = frame.bounds
    scale = width / (east - west)
    height = int((north - south) * scale) + 1

    def project(lon: float, lat: float) -> tuple[float, float]:
        return (lon - west) * scale, (north - lat) * scale

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="feasible region map">',
           f'<rect width="{width}" height="{height}" fill="#eef4f8"/>']
    for code, outline in zip(atlas.codes, atlas.shapes):
        if outline.intersects(frame):
            out.append(f'<path d="{_path(outline.intersection(frame), project)}" fill="#fbfbf6" stroke="#999" '
                       f'stroke-width="0.6"><title>{escape(atlas.names[code])} ({code})</title></path>')
    for disc in discs:
        out.append(f'<path d="{_path(disc.polygon().intersection(frame), project)}" fill="none" stroke="#1f5fa8" '
                   f'stroke-dasharray="4 3"><title>{escape(disc.landmark)}: within {disc.radius_km:.0f} km '
                   f'(RTT {disc.rtt_min_ms:.3f} ms at c)</title></path>')
    if not region.is_empty:
        out.append(f'<path d="{_path(region.intersection(frame), project)}" fill="#1f5fa8" fill-opacity="0.18" '
                   f'stroke="#1f5fa8"><title>feasible region (sound: light in vacuum)</title></path>')
    if not likely_region.is_empty:
        out.append(f'<path d="{_path(likely_region.intersection(frame), project)}" fill="#e08a00" '
                   f'fill-opacity="0.25"><title>likely region (fibre speed; an estimate, not a bound)</title></path>')
    for disc in discs:
        x, y = project(disc.longitude, disc.latitude)
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1f5fa8"/>'
                   f'<text x="{x + 6:.1f}" y="{y - 4:.1f}" font-size="12">{escape(disc.landmark)}</text>')
    if site:
        x, y = project(site[2], site[1])
        out.append(f'<path d="M{x - 6:.1f},{y - 6:.1f}L{x + 6:.1f},{y + 6:.1f}M{x - 6:.1f},{y + 6:.1f}'
                   f'L{x + 6:.1f},{y - 6:.1f}" stroke="#c00" stroke-width="2.5"/>'
                   f'<text x="{x + 8:.1f}" y="{y + 14:.1f}" font-size="12" fill="#c00">{escape(site[0])}</text>')
    out.append("</svg>")
    return "".join(out)
