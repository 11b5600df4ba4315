"""Bulk declarations from spreadsheets: `import FILE [--dry-run]`, `export FILE`, `template FILE`
(docs/declarations.md). An import with any bad row writes nothing and exits 1 naming each sheet, row and column."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.access.management.cli import add_by_argument, cli_audit
from inventory.declaration_sheets import FORMATS, SheetFormatError, format_of, sheets_write
from inventory.declarations_export import declarations_export_sheets
from inventory.services.declarations_import import declarations_import


class Command(BaseCommand):
    help = "Import (all rows or none), export or write a blank template of the declarations spreadsheet."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("import", help="import organizations, sites, clusters, licences, transfers")
        load.add_argument("file", type=Path)
        load.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
        add_by_argument(load)
        for name, what in (("export", "the declarations on record"), ("template", "a blank template")):
            parser_ = sub.add_parser(name, help=f"write {what} in the import's format")
            parser_.add_argument("file", type=Path)
        for parser_ in sub.choices.values():
            parser_.add_argument("--format", choices=FORMATS, help="default: the file name's extension")

    def handle(self, *args, action, file: Path, format=None, **options):
        try:
            fmt = format_of(file.name, format)
        except SheetFormatError as exc:
            raise CommandError(str(exc))
        if action == "import":
            self.handle_import(file=file, fmt=fmt, dry_run=options["dry_run"], by=options["by"])
        else:
            sheets = declarations_export_sheets() if action == "export" else {}
            try:
                file.write_bytes(sheets_write(sheets=sheets, fmt=fmt))
            except OSError as exc:
                raise CommandError(f"cannot write {file}: {exc.strerror}")
            rows = sum(len(rows) for rows in sheets.values())
            self.stdout.write(f"wrote {file} ({fmt}, {rows} rows)")

    def handle_import(self, *, file: Path, fmt: str, dry_run: bool, by: str | None):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}")
        try:
            with cli_audit("declarations", by):
                report = declarations_import(data=data, fmt=fmt, source_name=str(file), dry_run=dry_run)
        except SheetFormatError as exc:
            raise CommandError(str(exc))
        for outcome in report.outcomes:
            if outcome.action != "unchanged":
                changed = ", ".join(f"{column}={new!r}" for column, (_, new) in outcome.changes.items())
                self.stdout.write(f"{outcome.sheet} row {outcome.row}: {outcome.action} {outcome.key}: {changed}")
        if report.errors:
            for error in report.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{file}: {len(report.errors)} bad row(s); nothing imported")
        summary = "; ".join(f"{sheet}: {c['create']} new, {c['update']} changed, {c['unchanged']} unchanged"
                            for sheet, c in report.counts().items()) or "no rows"
        verb = "would import (dry run, nothing written)" if dry_run else "imported"
        self.stdout.write(f"{verb} {file}: {summary}")
        if report.rescored_cluster_ids:
            self.stdout.write(f"clusters re-scored: {', '.join(map(str, report.rescored_cluster_ids))}")
