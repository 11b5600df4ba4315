"""The ECCNs a licence for advanced computing can name, from the rules and the systems data themselves.

A licence covers a GPU only if it names the GPU's ECCN exactly (compliance.services compares the strings),
so a declared licence naming anything else — a typo, a paragraph below the ECCN (3A090.a.1) — would cover
nothing. The set is every ECCN a regime's control paragraph (3A090.a/.b, 87 FR 62186, 88 FR 73458; 3A090.c,
89 FR 96790), a system paragraph (4A090.a/.b) or a .z paragraph (88 FR 73458) assigns.
"""
from __future__ import annotations

import difflib
import re
from functools import cache

from .regimes import REGIMES
from .systems import default_systems

_SHAPE = re.compile(r"^(\d[A-E]\d{3})(\.[a-z]+)?$", re.IGNORECASE)


@cache
def licensable_eccns() -> frozenset[str]:
    found = {paragraph.eccn for regime in REGIMES for paragraph in regime.paragraphs}
    found |= {regime.hbm.paragraph.eccn for regime in REGIMES if regime.hbm is not None}
    systems = default_systems()
    found |= {paragraph.eccn for paragraph in systems.paragraphs}
    found |= {z.eccn for z in systems.z_paragraphs}
    return frozenset(found)


def eccn_normalise(value: str) -> str:
    """`3a090.A` → `3A090.a`: the category letter upper-case, the paragraph letter lower-case, as the CCL writes them."""
    match = _SHAPE.match(value.strip())
    if match is None:
        return value.strip()
    base, paragraph = match.groups()
    return base.upper() + (paragraph or "").lower()


def eccn_problem(value: str) -> str | None:
    """None for a licensable ECCN; otherwise what is wrong, with the nearest ECCNs when there are any."""
    known = licensable_eccns()
    if value in known:
        return None
    near = difflib.get_close_matches(value, sorted(known), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(near)}?)" if near else f" (one of {', '.join(sorted(known))})"
    return f"{value!r} is not an ECCN a licence for advanced computing names{hint}"
