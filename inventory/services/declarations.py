"""Declarations import: the declared GPUs, their licensed end user and site, from a CSV file."""
from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from ..models import Declaration, Organization, Site


class DeclarationImportError(ValueError):
    """A declarations file that cannot be imported; the message names the row and the problem."""


def declarations_import(*, data: bytes, source_name: str) -> int:
    """Import a CSV of declared GPUs (by UUID or serial) with licensed end user and site.

    All rows or none: any bad row aborts the import with a message naming it.  Re-importing
    a GPU updates its declaration.  Returns the number of rows imported.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DeclarationImportError(f"{source_name}: not UTF-8 ({exc.reason} at byte {exc.start})")
    if "\x00" in text:  # no text CSV holds one, and PostgreSQL text cannot store it
        raise DeclarationImportError(f"{source_name}: contains a NUL character; not a text CSV")
    reader = csv.DictReader(io.StringIO(text))
    try:
        records = list(reader)
    except csv.Error as exc:  # e.g. a field over csv's 128 KiB limit
        raise DeclarationImportError(f"{source_name}, line {reader.line_num}: unreadable CSV ({exc})")
    missing = {"licensed_end_user", "site"} - set(reader.fieldnames or [])
    if missing or not ({"gpu_uuid", "serial"} & set(reader.fieldnames or [])):
        raise DeclarationImportError(
            f"{source_name}: header must have licensed_end_user, site and gpu_uuid and/or serial "
            f"(found {reader.fieldnames})"
        )
    # Only the organizations and sites the file names, in two queries.
    organizations = {o.name: o for o in Organization.objects.filter(
        name__in={(r.get("licensed_end_user") or "").strip() for r in records})}
    sites = defaultdict(list)  # site names are unique per organization only
    for site in Site.objects.filter(name__in={(r.get("site") or "").strip() for r in records}):
        sites[site.name].append(site)
    digest = hashlib.sha256(data).hexdigest()
    now = timezone.now()
    rows, seen = [], set()
    for line, row in enumerate(records, start=2):
        gpu_uuid, serial = (row.get("gpu_uuid") or "").strip(), (row.get("serial") or "").strip()
        where = f"{source_name}, line {line}"
        if not gpu_uuid and not serial:
            raise DeclarationImportError(f"{where}: needs a gpu_uuid or a serial")
        if len(gpu_uuid) > 80 or len(serial) > 64:
            raise DeclarationImportError(f"{where}: gpu_uuid or serial too long")
        key = gpu_uuid or f"serial:{serial}"
        if key in seen:
            raise DeclarationImportError(f"{where}: {key} is declared twice in this file")
        seen.add(key)
        org = organizations.get((row.get("licensed_end_user") or "").strip())
        if org is None:
            raise DeclarationImportError(f"{where}: unknown organization {row.get('licensed_end_user')!r}")
        candidates = sites.get((row.get("site") or "").strip(), [])
        if not candidates:
            raise DeclarationImportError(f"{where}: unknown site {row.get('site')!r}")
        if len(candidates) > 1:
            raise DeclarationImportError(f"{where}: site name {row.get('site')!r} is used by "
                                         f"{len(candidates)} organizations' sites")
        site = candidates[0]
        rows.append(dict(gpu_uuid=gpu_uuid, serial=serial, licensed_end_user=org, site=site,
                         license_number=(row.get("license_number") or "").strip()[:64]))
    with transaction.atomic():
        for row in rows:
            lookup = {"gpu_uuid": row["gpu_uuid"]} if row["gpu_uuid"] else {"gpu_uuid": "", "serial": row["serial"]}
            Declaration.objects.update_or_create(
                **lookup, defaults=dict(row, source_sha256=digest, imported_at=now)
            )
    return len(rows)
