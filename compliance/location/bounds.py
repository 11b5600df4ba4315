"""Where a responder can be, from round-trip times to landmarks: the physics and the geometry.

Pure Python plus shapely, no Django, so the simulation (`bench/location_cities.py`)
and the server share one definition of every bound.

The argument (CNAS, "Secure, Governable Chips", Jan 2024; docs/location-verification.md): nothing travels faster
than light in vacuum, so a signed answer to a fresh nonce that came back after
RTT_min milliseconds was produced within c·(RTT_min − t_proc)/2 of the landmark.
That is an *upper* bound on distance and it is sound against the responder: delay
can only be added, never removed, so a host can look farther than it is, never
nearer.  The bound is only as sound as its inputs, hence:

* the SOUND disc uses c in vacuum (microwave links run close to it), never fibre
  speed; fibre (c/1.468) gives a "likely" disc that is labelled as an estimate and
  never drives a finding;
* the processing allowance t_proc must be a *lower* bound on the responder's
  processing time (default 0): subtracting more than the fastest possible responder
  needs would shrink discs below the truth and flag honest hosts;
* distances are on a sphere of the mean Earth radius, which is within 0.5 % of the
  ellipsoid, so every containment test grants that margin (`SPHERE_MARGIN`).

Discs are drawn as polygons in longitude/latitude with `DISC_VERTICES` vertices,
inflated so the polygon contains the true disc; discs that cross the antimeridian
are split and re-joined inside [-180, 180], discs that cover a pole are closed along
it, and a disc wider than half the Earth is the whole world.  Straight edges in
lon/lat near the poles bend from great circles; the inflation covers the
mid-latitudes where people build datacentres, not the polar cap.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from shapely import affinity
from shapely.geometry import Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from shapely.strtree import STRtree
from shapely.validation import make_valid

C_VACUUM_KM_PER_MS = 299.792458  # 299,792.458 km/s, exact by definition of the metre
FIBRE_REFRACTIVE_INDEX = 1.468  # group index of standard single-mode fibre (G.652) at 1550 nm
C_FIBRE_KM_PER_MS = C_VACUUM_KM_PER_MS / FIBRE_REFRACTIVE_INDEX

EARTH_MEAN_RADIUS_KM = 6371.0088  # IUGG mean radius
HALF_CIRCUMFERENCE_KM = math.pi * EARTH_MEAN_RADIUS_KM
# Sphere vs WGS 84 ellipsoid: great-circle distances are off by at most ~0.5 %.
SPHERE_MARGIN = 1.005
DISC_VERTICES = 180

WORLD = box(-180.0, -90.0, 180.0, 90.0)
COUNTRIES_GEOJSON = Path(__file__).resolve().parent / "data" / "countries.geojson"

SOUND = "sound"
LIKELY = "likely"
SPEED_KM_PER_MS = {SOUND: C_VACUUM_KM_PER_MS, LIKELY: C_FIBRE_KM_PER_MS}


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on the mean-radius sphere."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_MEAN_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def destination(lat: float, lon: float, bearing_deg: float, distance_km: float) -> tuple[float, float]:
    """The point `distance_km` from (lat, lon) along the initial bearing: (lat, lon), lon not normalised."""
    delta = distance_km / EARTH_MEAN_RADIUS_KM
    phi, lmb, theta = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    sin_phi2 = math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(theta)
    phi2 = math.asin(max(-1.0, min(1.0, sin_phi2)))
    lmb2 = lmb + math.atan2(math.sin(theta) * math.sin(delta) * math.cos(phi),
                            math.cos(delta) - math.sin(phi) * sin_phi2)
    return math.degrees(phi2), math.degrees(lmb2)


def radius_km(rtt_ms: float, *, processing_allowance_ms: float = 0.0, kind: str = SOUND) -> float:
    """How far a responder can be from the landmark: speed · (RTT − allowance) / 2.

    `kind` SOUND uses c in vacuum (the only speed an adversary cannot beat);
    LIKELY uses fibre speed and is an estimate of where an honest host is, never a bound.
    """
    return SPEED_KM_PER_MS[kind] * max(0.0, rtt_ms - processing_allowance_ms) / 2.0


def light_rtt_ms(distance_km: float, *, kind: str = SOUND) -> float:
    """The shortest round trip physics allows over `distance_km` (the inverse of `radius_km`)."""
    return 2.0 * distance_km / SPEED_KM_PER_MS[kind]


def disc_polygon(lat: float, lon: float, radius: float, *, vertices: int = DISC_VERTICES) -> BaseGeometry:
    """A polygon in lon/lat that contains the spherical disc of `radius` km around (lat, lon)."""
    # Inscribed polygon → stretch vertices by 1/cos(π/n); plus the sphere-vs-ellipsoid margin.
    radius = radius * SPHERE_MARGIN / math.cos(math.pi / vertices)
    if radius >= HALF_CIRCUMFERENCE_KM or (
        great_circle_km(lat, lon, 90, 0) < radius and great_circle_km(lat, lon, -90, 0) < radius
    ):
        return WORLD  # covers both poles: the complement is a small cap, ignored (a superset stays sound)
    ring: list[tuple[float, float]] = []
    for step in range(vertices):
        point_lat, point_lon = destination(lat, lon, 360.0 * step / vertices, radius)
        if ring:  # unwrap so consecutive vertices never jump by 360°
            previous = ring[-1][0]
            point_lon = previous + ((point_lon - previous + 180.0) % 360.0 - 180.0)
        ring.append((point_lon, point_lat))
    drift = ring[-1][0] + ((ring[0][0] - ring[-1][0] + 180.0) % 360.0 - 180.0) - ring[0][0]
    if abs(drift) > 180.0:  # the ring winds around a pole: close it along that pole
        pole = 90.0 if great_circle_km(lat, lon, 90, 0) < radius else -90.0
        first_lon, first_lat = ring[0]
        ring += [(first_lon + drift, first_lat), (first_lon + drift, pole), (first_lon, pole)]
    polygon = make_valid(Polygon(ring))
    return unary_union([affinity.translate(polygon, xoff=shift).intersection(WORLD) for shift in (-360.0, 0.0, 360.0)])


@dataclass(frozen=True)
class Disc:
    """One landmark's bound: the responder is within `radius_km` of (latitude, longitude)."""

    landmark: str
    latitude: float
    longitude: float
    rtt_min_ms: float
    radius_km: float
    kind: str = SOUND

    @classmethod
    def from_rtt(cls, *, landmark: str, latitude: float, longitude: float, rtt_min_ms: float,
                 processing_allowance_ms: float = 0.0, kind: str = SOUND) -> "Disc":
        return cls(landmark, latitude, longitude, rtt_min_ms,
                   radius_km(rtt_min_ms, processing_allowance_ms=processing_allowance_ms, kind=kind), kind)

    def excess_km(self, latitude: float, longitude: float) -> float:
        """How far (lat, lon) lies beyond this disc, margin granted; ≤ 0 when inside."""
        distance = great_circle_km(self.latitude, self.longitude, latitude, longitude)
        return distance - self.radius_km * SPHERE_MARGIN

    def polygon(self) -> BaseGeometry:
        return disc_polygon(self.latitude, self.longitude, self.radius_km)


def feasible_region(discs: list[Disc]) -> BaseGeometry:
    """Where the responder can be: the intersection of all discs (the world when there are none)."""
    region = WORLD
    for disc in discs:
        region = region.intersection(disc.polygon())
    return region


class CountryAtlas:
    """Natural Earth country outlines (see data/SOURCE.md) with a spatial index."""

    def __init__(self, features: list[dict]):
        self.codes = [feature["properties"]["iso2"] for feature in features]
        self.names = {feature["properties"]["iso2"]: feature["properties"]["name"] for feature in features}
        self.shapes = [make_valid(shape(feature["geometry"])) for feature in features]
        self._index = STRtree(self.shapes)

    @classmethod
    @lru_cache(maxsize=1)
    def load(cls) -> "CountryAtlas":
        return cls(json.loads(COUNTRIES_GEOJSON.read_text("utf-8"))["features"])

    def countries_intersecting(self, region: BaseGeometry) -> list[str]:
        """ISO alpha-2 codes of every country whose land the region touches, sorted."""
        if region.is_empty:
            return []
        hits = self._index.query(region, predicate="intersects")
        return sorted({self.codes[i] for i in hits})

    def country_at(self, latitude: float, longitude: float) -> str | None:
        hits = self._index.query(Point(longitude, latitude), predicate="intersects")
        return self.codes[hits[0]] if len(hits) else None


@dataclass(frozen=True)
class Assessment:
    """What the discs say about one host, for findings and for the map.

    Two independent questions, each with its own finding:
      site_excluded   the declared site lies outside at least one sound disc: physically impossible
      region_verdict  which countries the feasible region can lie in:
        INCONSISTENT  the sound discs do not intersect (a landmark's position or clock is wrong)
        LICENCE_ONLY  every country the region touches needs a licence
        UNRESOLVED    it touches a licence country and an allowed one, or no land at all
        ALLOWED       it touches only countries that need no licence
    """

    region_verdict: str
    region: BaseGeometry
    likely_region: BaseGeometry
    countries: list[str]
    excluding_discs: list[dict] = field(default_factory=list)

    IMPOSSIBLE = "impossible"
    INCONSISTENT = "inconsistent"
    LICENCE_ONLY = "licence_only"
    UNRESOLVED = "unresolved"
    ALLOWED = "allowed"

    @property
    def site_excluded(self) -> bool:
        return bool(self.excluding_discs) and self.region_verdict != self.INCONSISTENT

    @property
    def verdict(self) -> str:
        """The headline: IMPOSSIBLE when the site is excluded, else the region verdict."""
        return self.IMPOSSIBLE if self.site_excluded else self.region_verdict


def assess(*, discs: list[Disc], likely_discs: list[Disc], site: tuple[float, float] | None,
           licence_countries: frozenset[str], atlas: CountryAtlas) -> Assessment:
    """Judge the sound discs against the declared site and the licence-required destinations.

    The site test is exact (great-circle distance per disc), not a polygon test, so the
    strong finding never rests on the polygon approximation.  When the discs do not
    intersect at all, no site can satisfy them, and the fault is the landmarks', not the site's.
    """
    region = feasible_region(discs)
    likely = feasible_region(likely_discs).intersection(region)
    countries = atlas.countries_intersecting(region)
    excluding = []
    if site is not None:
        for disc in discs:
            excess = disc.excess_km(*site)
            if excess > 0:
                excluding.append({"landmark": disc.landmark, "rtt_min_ms": round(disc.rtt_min_ms, 3),
                                  "radius_km": round(disc.radius_km, 1),
                                  "distance_km": round(excess + disc.radius_km * SPHERE_MARGIN, 1)})
    if region.is_empty:
        verdict = Assessment.INCONSISTENT
    elif countries and set(countries) <= licence_countries:
        verdict = Assessment.LICENCE_ONLY
    elif not countries or set(countries) & licence_countries:
        verdict = Assessment.UNRESOLVED
    else:
        verdict = Assessment.ALLOWED
    return Assessment(verdict, region, likely, countries, excluding)
