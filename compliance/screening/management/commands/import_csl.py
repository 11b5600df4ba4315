"""python manage.py import_csl FILE — import the US Consolidated Screening List (CSV or JSON)."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.screening import services
from compliance.screening.csl import CslFormatError


class Command(BaseCommand):
    help = ("Import a Consolidated Screening List file (CSV or JSON, detected from the file) in one transaction, "
            "then re-screen every organization.  The same file (by SHA-256) is imported once.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--progress", action="store_true",
                            help="show a progress counter on stderr even when it is not a terminal")

    def handle(self, *args, file: Path, progress: bool, **options):
        show_progress = progress or self.stderr.isatty()
        try:
            result = services.screening_list_import(path=file, progress=self._progress if show_progress else None)
        except CslFormatError as exc:
            raise CommandError(f"{file}: {exc}; nothing was imported") from None
        except OSError as exc:
            raise CommandError(f"{file}: cannot read the file ({exc.strerror or exc})") from None
        screening_list = result.screening_list
        if show_progress and result.created:
            self.stderr.write("")
        if not result.created:
            self.stdout.write(f"{file}: already imported as list #{screening_list.pk} (version {screening_list.version},"
                              f" sha256 {screening_list.sha256[:12]}…); nothing to do")
            return
        self.stdout.write(self.style.SUCCESS(
            f"{file}: imported {screening_list.entry_count} entries as list #{screening_list.pk} "
            f"(version {screening_list.version}, sha256 {screening_list.sha256[:12]}…); re-screening organizations"
        ))

    def _progress(self, done: int, total: int) -> None:
        self.stderr.write(f"\rimporting entries {done}/{total}", ending="")
        self.stderr.flush()
