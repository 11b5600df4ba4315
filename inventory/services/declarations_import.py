"""Bulk declarations: organizations, sites, clusters, licences and transfers from a spreadsheet.

Every row is written through the model's save() inside one transaction, so the audit log records each
created or changed row exactly as the admin and the licence form do (compliance.audit.signals), and a dry
run is the same import rolled back: the preview shows what the commit would do, because it is the commit
up to the last step. A file with any bad row is rolled back whole. Rows are matched on natural keys
(organization name, site name within its organization, cluster name within its site, licence number,
transfer GPU + destination site + date), so importing the same file twice changes nothing the second time.
Licences created or changed re-score the clusters they may cover once the import has committed.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from compliance.core.eccns import eccn_normalise, eccn_problem

from ..countries import COUNTRY_CODES
from ..declaration_sheets import LIST_SEPARATOR, REQUIRED, SITE_QUALIFIER, SheetRow, sheet_rows_read
from ..models import Cluster, License, Organization, Site, Transfer
from .licences import licence_affected_cluster_ids

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RowError:
    sheet: str
    row: int
    column: str
    message: str

    def __str__(self):
        return f"sheet {self.sheet!r}, row {self.row}, column {self.column!r}: {self.message}"


@dataclass(frozen=True)
class RowOutcome:
    sheet: str
    row: int
    key: str
    action: str  # create | update | unchanged
    changes: dict = field(default_factory=dict)  # column -> [stored, imported]


@dataclass
class ImportReport:
    source_name: str
    sha256: str
    dry_run: bool
    committed: bool = False
    outcomes: list[RowOutcome] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rescored_cluster_ids: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for outcome in self.outcomes:
            sheet = out.setdefault(outcome.sheet, {"create": 0, "update": 0, "unchanged": 0})
            sheet[outcome.action] += 1
        return out

    def to_dict(self) -> dict:
        return {**asdict(self), "counts": self.counts()}


class _RowProblem(Exception):
    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column, self.message = column, message


def declarations_import(*, data: bytes, fmt: str, source_name: str, scope=None, dry_run: bool = False,
                        progress: Progress | None = None) -> ImportReport:
    """Import a declarations file (compliance.access.scope.Scope `scope`: None is every organization).

    Raises declaration_sheets.SheetFormatError for a file that is not a declarations file; a file with bad
    rows returns a report whose `errors` name sheet, row and column, with nothing written.
    """
    rows = sheet_rows_read(data=data, fmt=fmt, source_name=source_name)
    report = ImportReport(source_name=source_name, sha256=hashlib.sha256(data).hexdigest(), dry_run=dry_run)
    with transaction.atomic():
        importer = _Importer(scope=scope, report=report)
        importer.run(rows, progress)
        if report.errors or dry_run:
            transaction.set_rollback(True)
        else:
            report.committed = True
            report.rescored_cluster_ids = sorted(importer.affected_cluster_ids)
            if report.rescored_cluster_ids:
                from compliance.tasks import rescore_clusters

                ids = report.rescored_cluster_ids
                transaction.on_commit(lambda: rescore_clusters.delay(ids))
    return report


class _Importer:
    def __init__(self, *, scope, report: ImportReport):
        self.scope, self.report = scope, report
        self.created_org_ids: set[int] = set()
        self.affected_cluster_ids: set[int] = set()
        self.seen: dict[tuple, int] = {}
        self.organizations: dict[str, Organization | None] = {}  # by name, as read or written in this run

    # --- the loop ------------------------------------------------------------------------------------

    def run(self, rows: list[SheetRow], progress: Progress | None) -> None:
        total, done = len(rows), 0
        step = max(1, total // 200)
        for row in self._parents_first(rows):
            # No savepoint per row: a row is validated whole before its first write, and any bad row rolls
            # the whole file back. A database refusal after validation (a row another session wrote meanwhile)
            # leaves the transaction unusable, so it ends the run.
            try:
                self.report.outcomes.append(getattr(self, f"_{row.sheet}")(row))
            except DatabaseError as exc:
                self.report.errors.append(RowError(row.sheet, row.row, "", f"refused by the database: {exc}"))
                break
            except _RowProblem as problem:
                self.report.errors.append(RowError(row.sheet, row.row, problem.column, problem.message))
            except ValidationError as exc:
                for column, message in _validation_messages(exc, row):
                    self.report.errors.append(RowError(row.sheet, row.row, column, message))
            done += 1
            if progress is not None and (done % step == 0 or done == total):
                progress(done, total)
        if progress is not None and not total:
            progress(0, 0)
        order = list(REQUIRED)  # the template's sheet order
        self.report.errors.sort(key=lambda e: (order.index(e.sheet), e.row))

    @staticmethod
    def _parents_first(rows: list[SheetRow]) -> list[SheetRow]:
        """Organizations whose parent is another row of the file come after that row, wherever it stands."""
        organizations = [r for r in rows if r.sheet == "organizations"]
        rest = [r for r in rows if r.sheet != "organizations"]
        names = {r.values.get("name", "") for r in organizations}
        placed: set[str] = set()
        ordered, pending = [], organizations
        while pending:
            ready, waiting = [], []
            for r in pending:
                parent = r.values.get("parent", "")
                done = parent in placed or parent not in names or parent == r.values.get("name")
                (ready if done else waiting).append(r)
            if not ready:  # a cycle inside the file: let the rows fail on their unknown parents
                ready, waiting = waiting, []
            ordered += ready
            placed |= {r.values.get("name", "") for r in ready}
            pending = waiting
        return ordered + rest

    # --- one handler per sheet -------------------------------------------------------------------------

    def _organizations(self, row: SheetRow) -> RowOutcome:
        name = self._required(row, "name")
        self._once(row, (name,), "name")
        parent_name = row.values.get("parent", "")
        parent = self._organization(parent_name, "parent") if parent_name else None
        stored = Organization.objects.filter(name=name).first()
        if stored is not None and not self._may_change(stored):
            raise _RowProblem("name", f"the name {name!r} belongs to an organization outside your scope")
        everything = self.scope is None or self.scope.everything
        detaching = stored is not None and stored.parent_id is not None and "parent" in row.values
        if parent is None and not everything and (stored is None or detaching):
            raise _RowProblem("parent", "an organization without a parent is a family of its own: only a role "
                                        "over every organization may declare one")
        values = {"kind": self._choice(row, "kind", Organization.Kind, Organization.Kind.OPERATOR),
                  "headquarters_country": self._country(row, "headquarters_country", required=True)}
        values["country_of_incorporation"] = (self._country(row, "country_of_incorporation")
                                              or values["headquarters_country"])
        if "parent" in row.values:
            values["parent"] = parent
        if "aliases" in row.values:
            values["aliases"] = self._list(row, "aliases")
        organization = stored or Organization(name=name)
        outcome = self._save(row, organization, values, key=name)
        if outcome.action == "create":
            self.created_org_ids.add(organization.pk)
        self.organizations[name] = organization
        return outcome

    def _sites(self, row: SheetRow) -> RowOutcome:
        organization = self._organization(self._required(row, "organization"), "organization")
        name = self._required(row, "name")
        self._once(row, (organization.pk, name), "name")
        values = {"country": self._country(row, "country", required=True)}
        if "city" in row.values:
            values["city"] = row.values["city"]
        for column, limit in (("latitude", 90), ("longitude", 180)):
            if column in row.values:
                values[column] = self._number(row, column, float, -limit, limit)
        stored = Site.objects.filter(organization=organization, name=name).first()
        return self._save(row, stored or Site(organization=organization, name=name), values,
                          key=f"{organization.name}{SITE_QUALIFIER}{name}")

    def _clusters(self, row: SheetRow) -> RowOutcome:
        site = self._site(self._required(row, "site"), "site")
        name = self._required(row, "name")
        self._once(row, (site.pk, name), "name")
        values = {"operator": self._organization(self._required(row, "operator"), "operator"),
                  "declared_purpose": self._choice(row, "declared_purpose", Cluster.Purpose, Cluster.Purpose.UNKNOWN)}
        stored = Cluster.objects.filter(site=site, name=name).first()
        return self._save(row, stored or Cluster(site=site, name=name), values,
                          key=f"{site.organization.name}{SITE_QUALIFIER}{site.name}: {name}")

    def _licences(self, row: SheetRow) -> RowOutcome:
        number = self._required(row, "number")
        self._once(row, (number,), "number")
        holder = self._organization(self._required(row, "holder"), "holder")
        stored = License.objects.filter(number=number).select_related("holder").first()
        if stored is not None and not self._may_change(stored.holder):
            raise _RowProblem("number", f"licence {number!r} is held by an organization outside your scope")
        country = self._country(row, "destination_country", required=True)
        eccns = sorted({eccn_normalise(item) for item in self._list(row, "eccns")})
        if not eccns:
            raise _RowProblem("eccns", "a licence names at least one ECCN")
        for eccn in eccns:
            if problem := eccn_problem(eccn):
                raise _RowProblem("eccns", problem)
        values = {"holder": holder, "destination_country": country, "eccns": eccns,
                  "valid_from": self._date(row, "valid_from", required=True),
                  "valid_until": self._date(row, "valid_until"),
                  "quantity": self._number(row, "quantity", int, 1, None)}
        if values["valid_until"] and values["valid_until"] < values["valid_from"]:
            raise _RowProblem("valid_until", "the licence cannot end before it starts")
        sites = [self._site(text, "sites") for text in self._list(row, "sites")]
        elsewhere = [site.name for site in sites if site.country != country]
        if elsewhere:
            raise _RowProblem("sites", f"not in {country}: {', '.join(elsewhere)}")
        before = None if stored is None else (stored.holder, stored.destination_country)
        outcome = self._save(row, stored or License(number=number), values, key=number,
                             sites=sites if "sites" in row.values else None)
        if outcome.action != "unchanged":
            for owner, where in {(holder, country), *([before] if before else [])}:
                self.affected_cluster_ids.update(licence_affected_cluster_ids(holder=owner, destination_country=where))
        return outcome

    def _transfers(self, row: SheetRow) -> RowOutcome:
        gpu_uuid = self._required(row, "gpu_uuid")
        if len(gpu_uuid) > 80:
            raise _RowProblem("gpu_uuid", "longer than 80 characters")
        to_site = self._site(self._required(row, "to_site"), "to_site")
        effective = self._date(row, "effective_date", required=True)
        self._once(row, (gpu_uuid, to_site.pk, effective), "gpu_uuid")
        values = {"from_site": self._site(row.values["from_site"], "from_site") if row.values.get("from_site")
                  else None, "license_number": row.values.get("license_number", "")}
        stored = (Transfer.objects.filter(gpu_uuid=gpu_uuid, to_site=to_site, effective_date=effective)
                  .order_by("id").first())
        return self._save(row, stored or Transfer(gpu_uuid=gpu_uuid, to_site=to_site, effective_date=effective),
                          values, key=f"{gpu_uuid} → {to_site.name} on {effective.isoformat()}")

    # --- writing ------------------------------------------------------------------------------------

    def _save(self, row: SheetRow, instance, values: dict, *, key: str, sites=None) -> RowOutcome:
        """Set the changed fields, validate the whole row like a form would, save (audited by signal)."""
        creating = instance.pk is None
        changes = {}
        # A column the sheet leaves out keeps the stored value; a new row takes the defaults parsed for it.
        given = {k: v for k, v in values.items() if creating or k in row.values or k in REQUIRED[row.sheet]}
        for name, new in given.items():
            old = getattr(instance, name, None) if not creating else None
            if creating or _plain(old) != _plain(new):
                changes[name] = [_plain(old), _plain(new)]
                setattr(instance, name, new)
        if sites is not None:
            stored_sites = [] if creating else list(instance.sites.all())
            if {site.pk for site in stored_sites} != {site.pk for site in sites}:
                changes["sites"] = [sorted(site.name for site in stored_sites), sorted(site.name for site in sites)]
        if not creating and not changes:
            return RowOutcome(row.sheet, row.row, key, "unchanged")
        # The related rows were just read through the scope: their existence needs no second query each.
        instance.full_clean(exclude=[f.name for f in instance._meta.concrete_fields if f.is_relation])
        instance.save()
        if "sites" in changes:
            instance.sites.set(sites)
        return RowOutcome(row.sheet, row.row, key, "create" if creating else "update", changes)

    # --- references, all through the importer's scope -----------------------------------------------------

    def _may_change(self, organization: Organization) -> bool:
        if self.scope is None or self.scope.everything:
            return True
        return organization.pk in self.scope.organization_ids or organization.pk in self.created_org_ids

    def _organization(self, name: str, column: str) -> Organization:
        if name not in self.organizations:
            self.organizations[name] = Organization.objects.filter(name=name).first()
        found = self.organizations[name]
        if found is None or not self._may_change(found):  # outside the scope it does not exist
            raise _RowProblem(column, f"unknown organization {name!r}")
        return found

    def _site(self, text: str, column: str) -> Site:
        candidates = [s for s in Site.objects.filter(name=text).select_related("organization")
                      if self._may_change(s.organization)]
        if not candidates and SITE_QUALIFIER in text:
            organization, name = text.rsplit(SITE_QUALIFIER, 1)
            candidates = [s for s in Site.objects.filter(name=name.strip(), organization__name=organization.strip())
                          .select_related("organization") if self._may_change(s.organization)]
        if not candidates:
            raise _RowProblem(column, f"unknown site {text!r}")
        if len(candidates) > 1:
            raise _RowProblem(column, f"site name {text!r} is used by several organizations: write one of "
                              + ", ".join(f"'{s.organization.name}{SITE_QUALIFIER}{s.name}'" for s in candidates))
        return candidates[0]

    def _once(self, row: SheetRow, key: tuple, column: str) -> None:
        first = self.seen.setdefault((row.sheet, *key), row.row)
        if first != row.row:
            raise _RowProblem(column, f"duplicate of row {first} (same {row.sheet[:-1]} declared twice)")

    # --- cell values --------------------------------------------------------------------------------------

    @staticmethod
    def _required(row: SheetRow, column: str) -> str:
        value = row.values.get(column, "")
        if not value:
            raise _RowProblem(column, "required, empty")
        return value

    @staticmethod
    def _country(row: SheetRow, column: str, *, required: bool = False) -> str:
        value = row.values.get(column, "").upper()
        if not value and not required:
            return ""
        if value not in COUNTRY_CODES:
            raise _RowProblem(column, f"{row.values.get(column, '')!r} is not an ISO 3166-1 alpha-2 country code "
                                      "(e.g. US, CN, SG)")
        return value

    @staticmethod
    def _choice(row: SheetRow, column: str, choices, default) -> str:
        value = row.values.get(column, "")
        if not value:
            return default
        for choice_value, label in choices.choices:
            if value.lower() in (choice_value, str(label).lower()):
                return choice_value
        raise _RowProblem(column, f"{value!r} is not one of {', '.join(choices.values)}")

    @staticmethod
    def _date(row: SheetRow, column: str, *, required: bool = False) -> date | None:
        value = row.values.get(column, "")
        if not value:
            if required:
                raise _RowProblem(column, "required, empty")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _RowProblem(column, f"{value!r} is not a date (YYYY-MM-DD)") from None

    @staticmethod
    def _number(row: SheetRow, column: str, kind: type, low, high):
        value = row.values.get(column, "")
        if not value:
            return None
        try:
            number = kind(value)
        except ValueError:
            raise _RowProblem(column, f"{value!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise _RowProblem(column, f"{value} is not {bounds}")
        return number

    @staticmethod
    def _list(row: SheetRow, column: str) -> list[str]:
        return [item.strip() for item in row.values.get(column, "").split(LIST_SEPARATOR) if item.strip()]


def _plain(value):
    """A field value as the preview shows it: related rows by name, dates ISO."""
    if isinstance(value, Organization | Site):
        return value.name
    if isinstance(value, date):
        return value.isoformat()
    return value


def _validation_messages(exc: ValidationError, row: SheetRow):
    if not hasattr(exc, "error_dict"):
        yield "", "; ".join(exc.messages)
        return
    key_column = REQUIRED[row.sheet][0] if row.sheet != "sites" else "name"
    for name, errors in exc.message_dict.items():
        column = name if name in row.values else (key_column if name == "__all__" else name)
        yield column, "; ".join(errors)
