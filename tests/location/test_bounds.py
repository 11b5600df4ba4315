"""The physics and geometry alone: no database, no network."""
import math

import pytest
from shapely.geometry import Point

from compliance.location import bounds

SINGAPORE, SHANGHAI, HONG_KONG = (1.290, 103.852), (31.230, 121.474), (22.320, 114.170)
LICENCE = frozenset({"CN", "HK", "MO", "RU"})


def test_great_circle_matches_known_city_distances():
    assert bounds.great_circle_km(*SINGAPORE, *SHANGHAI) == pytest.approx(3810, rel=0.01)
    assert bounds.great_circle_km(*SINGAPORE, *HONG_KONG) == pytest.approx(2590, rel=0.01)
    assert bounds.great_circle_km(0, 0, 0, 180) == pytest.approx(math.pi * bounds.EARTH_MEAN_RADIUS_KM)


def test_sound_radius_uses_vacuum_light_and_subtracts_only_the_allowance():
    assert bounds.radius_km(1.0) == pytest.approx(149.896229)  # c · 1 ms / 2
    assert bounds.radius_km(1.0, kind=bounds.LIKELY) == pytest.approx(149.896229 / 1.468)
    assert bounds.radius_km(1.0, processing_allowance_ms=0.4) == pytest.approx(0.6 * 149.896229)
    assert bounds.radius_km(0.1, processing_allowance_ms=0.4) == 0.0
    assert bounds.light_rtt_ms(bounds.radius_km(7.0)) == pytest.approx(7.0)


@pytest.mark.parametrize("lat, lon, radius", [
    (1.29, 103.85, 150), (31.23, 121.47, 3000), (-17.7, 178.0, 800), (65.0, -179.5, 1500), (80.0, 0.0, 2000),
    (-80.0, 170.0, 3000),
])
def test_disc_polygon_contains_its_centre_and_every_point_of_the_true_disc(lat, lon, radius):
    polygon = bounds.disc_polygon(lat, lon, radius)
    assert polygon.is_valid and polygon.covers(Point(lon, lat))
    for bearing in range(0, 360, 7):  # points just inside the true boundary, off the polygon's vertices
        point_lat, point_lon = bounds.destination(lat, lon, bearing + 0.5, radius * 0.999)
        point_lon = (point_lon + 180) % 360 - 180
        assert polygon.covers(Point(point_lon, point_lat)), (bearing, point_lat, point_lon)


def test_disc_across_the_antimeridian_is_split_inside_the_world():
    polygon = bounds.disc_polygon(-17.7, 178.0, 800)  # Fiji
    west, _, east, _ = polygon.bounds
    assert west == pytest.approx(-180) and east == pytest.approx(180)
    assert not polygon.covers(Point(0, -17.7))


def test_a_disc_wider_than_both_poles_is_the_world():
    assert bounds.disc_polygon(0, 0, 25000).equals(bounds.WORLD)


def test_country_lookup_knows_the_small_places_this_is_about():
    atlas = bounds.CountryAtlas.load()
    assert atlas.country_at(1.35, 103.82) == "SG"
    assert atlas.country_at(22.38, 114.15) == "HK"
    assert atlas.country_at(22.16, 113.56) in ("MO", None)  # Macau is 30 km²: the simplified outline is close
    assert atlas.country_at(50.11, 8.68) == "DE"
    assert set(atlas.countries_intersecting(bounds.disc_polygon(*SINGAPORE, 150))) == {"SG", "MY", "ID"}


def _assess(discs, site):
    return bounds.assess(discs=discs, likely_discs=[], site=site, licence_countries=LICENCE,
                         atlas=bounds.CountryAtlas.load())


def _disc(name, where, rtt_ms):
    return bounds.Disc.from_rtt(landmark=name, latitude=where[0], longitude=where[1], rtt_min_ms=rtt_ms)


def test_an_honest_singapore_host_is_allowed_and_its_site_inside():
    assessment = _assess([_disc("SIN", SINGAPORE, 1.2), _disc("SHA", SHANGHAI, 40.0)], (1.35, 103.82))
    assert not assessment.site_excluded
    assert assessment.verdict == bounds.Assessment.ALLOWED
    assert set(assessment.countries) == {"SG", "MY", "ID"}


def test_a_host_that_answers_shanghai_in_2ms_cannot_be_in_singapore():
    assessment = _assess([_disc("SHA", SHANGHAI, 2.0), _disc("SIN", SINGAPORE, 45.0)], (1.35, 103.82))
    assert assessment.site_excluded and assessment.verdict == bounds.Assessment.IMPOSSIBLE
    [excluding] = assessment.excluding_discs
    assert excluding["landmark"] == "SHA" and excluding["distance_km"] > 3700 and excluding["radius_km"] < 300
    assert assessment.region_verdict == bounds.Assessment.LICENCE_ONLY and assessment.countries == ["CN"]


def test_a_wide_region_touching_a_licence_country_is_unresolved_not_accused():
    assessment = _assess([_disc("SIN", SINGAPORE, 30.0)], (1.35, 103.82))
    assert assessment.verdict == bounds.Assessment.UNRESOLVED
    assert {"SG", "CN"} <= set(assessment.countries)


def test_discs_that_cannot_all_hold_blame_the_landmarks_not_the_site():
    assessment = _assess([_disc("SIN", SINGAPORE, 1.0), _disc("SHA", SHANGHAI, 1.0)], (1.35, 103.82))
    assert assessment.region.is_empty
    assert assessment.region_verdict == bounds.Assessment.INCONSISTENT and not assessment.site_excluded
