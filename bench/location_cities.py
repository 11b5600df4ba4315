"""What delay-based location verification can and cannot tell apart, over real city pairs.

    .venv/bin/python bench/location_cities.py [--trials 20000] [--seed 7]

For each pair (A, B): the great-circle distance, the round trip light needs in
vacuum (the sound floor) and in straight fibre, and a Monte-Carlo of an honest host
in A measured by landmarks in A and in B over realistic paths:

* path: 90 % fibre with route inflation ×1.2-2.5 (ip-vote.com: "+20 % or more");
  10 % near-c links (microwave / hollow-core), ×1.0-1.1 at 0.99 c;
* plus the honest host's own local round trip (access network, kernel, signing),
  uniform 0.3-2.0 ms, which no landmark can tell from distance.

Columns:
  separable   can a landmark in A prove a host is NOT in B?  Only if an honest host in
              A answers faster than light crosses A-B: RTT@c > local RTT.  Shown as the
              share of honest hosts for whom it works.
  P(impossible, sound)   an honest host in A flagged "impossible" by the sound bound
              (vacuum c): zero by construction — delay only ever adds.
  P(impossible, fibre)   the same if fibre speed were (wrongly) used as the bound: the
              near-c paths make honest hosts look impossibly close.

Pure: uses compliance/location/bounds.py only (no Django, no network).
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compliance.location import bounds  # noqa: E402

CITIES = {
    "Singapore": (1.290, 103.852),
    "Johor Bahru": (1.493, 103.741),
    "Kuala Lumpur": (3.139, 101.687),
    "Hong Kong": (22.320, 114.170),
    "Shenzhen": (22.543, 114.058),
    "Macau": (22.199, 113.544),
    "Shanghai": (31.230, 121.474),
    "Beijing": (39.904, 116.407),
    "Taipei": (25.033, 121.565),
    "Frankfurt": (50.110, 8.682),
}
PAIRS = [
    ("Singapore", "Johor Bahru"), ("Hong Kong", "Shenzhen"), ("Hong Kong", "Macau"), ("Singapore", "Kuala Lumpur"),
    ("Taipei", "Shanghai"), ("Shanghai", "Beijing"), ("Hong Kong", "Shanghai"), ("Singapore", "Hong Kong"),
    ("Singapore", "Shanghai"), ("Frankfurt", "Singapore"), ("Frankfurt", "Shanghai"),
]
NEAR_C_SHARE = 0.10


def path_rtt_ms(distance_km: float, rng: random.Random) -> float:
    """One honest round trip over `distance_km`, including the host's local round trip."""
    if rng.random() < NEAR_C_SHARE:
        one_way = distance_km * rng.uniform(1.0, 1.1) / (0.99 * bounds.C_VACUUM_KM_PER_MS)
    else:
        one_way = distance_km * rng.uniform(1.2, 2.5) / bounds.C_FIBRE_KM_PER_MS
    return 2 * one_way + rng.uniform(0.3, 2.0)


def simulate(a: str, b: str, trials: int, rng: random.Random) -> dict:
    distance = bounds.great_circle_km(*CITIES[a], *CITIES[b])
    separable = flagged_sound = flagged_fibre = 0
    for _ in range(trials):
        local_rtt = path_rtt_ms(0.0, rng)  # landmark in A, honest host in A
        separable += bounds.radius_km(local_rtt) < distance
        far_rtt = path_rtt_ms(distance, rng)  # landmark in B, the same honest host in A
        flagged_sound += bounds.radius_km(far_rtt) * bounds.SPHERE_MARGIN < distance
        flagged_fibre += bounds.radius_km(far_rtt, kind=bounds.LIKELY) * bounds.SPHERE_MARGIN < distance
    return {"distance_km": distance, "rtt_c_ms": bounds.light_rtt_ms(distance),
            "rtt_fibre_ms": bounds.light_rtt_ms(distance, kind=bounds.LIKELY),
            "separable": separable / trials, "impossible_sound": flagged_sound / trials,
            "impossible_fibre": flagged_fibre / trials}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cells = [f"{'pair (A – B)':<26}", f"{'km':>6}", f"{'RTT@c ms':>8}", f"{'fibre ms':>8}", f"{'separable':>9}",
             f"{'P(impossible, sound)':>20}", f"{'P(impossible, fibre)':>20}"]
    print("| " + " | ".join(cells) + " |")
    print("|" + "|".join("-" * (len(cell) + 2) for cell in cells) + "|")
    for a, b in PAIRS:
        row = simulate(a, b, args.trials, rng)
        print(f"| {a + ' – ' + b:<26} | {row['distance_km']:>6.0f} | {row['rtt_c_ms']:>8.2f} | "
              f"{row['rtt_fibre_ms']:>8.2f} | {row['separable']:>9.0%} | {row['impossible_sound']:>20.1%} | "
              f"{row['impossible_fibre']:>20.1%} |")


if __name__ == "__main__":
    main()
