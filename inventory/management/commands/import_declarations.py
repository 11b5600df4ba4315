from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.services.declarations import DeclarationImportError, declarations_import


class Command(BaseCommand):
    help = ("Import declared GPUs from a CSV with columns gpu_uuid and/or serial, licensed_end_user "
            "(organization name), site (site name), license_number. All rows or none.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}")
        try:
            count = declarations_import(data=data, source_name=str(file))
        except DeclarationImportError as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"imported {count} declarations from {file}")
