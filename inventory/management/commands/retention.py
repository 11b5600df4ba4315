from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.audit.context import audit_context
from inventory import partitions
from inventory.services.retention import RetentionError, partition_archive, retention_plan


class Command(BaseCommand):
    help = ("Export each GpuSample month older than N months to DIR/<partition>.csv.gz, record its SHA-256, "
            "rows and range in the audit log, then detach it (--drop: drop it too). PostgreSQL only; "
            "refuses while a retained look-back window or an open finding still needs a month. docs/storage.md")

    def add_arguments(self, parser):
        parser.add_argument("--older-than-months", type=int, required=True)
        parser.add_argument("--out", type=Path, default=Path("var/retention"))
        parser.add_argument("--dry-run", action="store_true", help="Say what would be archived; change nothing")
        parser.add_argument("--drop", action="store_true", help="Drop each partition once exported and detached")

    def handle(self, *args, older_than_months: int, out: Path, dry_run: bool, drop: bool, **options):
        if not partitions.supported():
            self.stdout.write("retention: SQLite keeps GpuSample in one table without partitions; "
                              "nothing to export or detach (nothing was done)")
            return
        try:
            plan = retention_plan(older_than_months=older_than_months)
        except RetentionError as exc:
            raise CommandError(f"retention refused: {exc}")
        verb = "would archive" if dry_run else "archiving"
        self.stdout.write(f"keeping samples from {plan.cutoff:%Y-%m-%d}; {verb} {len(plan.partitions)} partition(s)")
        if dry_run or not plan.partitions:
            for partition in plan.partitions:
                self.stdout.write(f"  {partition.name} [{partition.start:%Y-%m-%d}, {partition.end:%Y-%m-%d})")
            return
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot create {out}: {exc.strerror}")
        with audit_context(request_id=f"retention-{plan.cutoff:%Y%m%d}"):
            for partition in plan.partitions:
                try:
                    archive = partition_archive(partition=partition, out_dir=out, drop=drop)
                except (RetentionError, OSError) as exc:
                    raise CommandError(f"retention stopped at {partition.name} (it stays attached): {exc}")
                self.stdout.write(f"  {archive.partition}: {archive.rows} rows → {out / archive.file_name} "
                                  f"sha256 {archive.sha256}{' (dropped)' if drop else ' (detached)'}")
