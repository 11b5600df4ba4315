"""Walk the audit hash chain; exit 1 naming the first row edited or deleted behind the application's back."""
from django.core.management.base import BaseCommand, CommandError

from compliance.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain (exit status 1 at the first broken row)."

    def add_arguments(self, parser):
        parser.add_argument("--anchor", metavar="SEQ:SHA256",
                            help="A head printed by an earlier run: catches deletion of the newest rows too")

    def handle(self, *args, anchor=None, **options):
        parsed = None
        if anchor:
            seq, _, sha = anchor.partition(":")
            if not seq.isdigit() or len(sha) != 64:
                raise CommandError("--anchor must look like SEQ:SHA256")
            parsed = (int(seq), sha)
        report = audit_chain_verify(anchor=parsed)
        if not report.intact:
            raise CommandError(f"audit log BROKEN: {report.problem}; {report.events} events verified before it",
                               returncode=1)
        self.stdout.write(f"audit log intact: {report.events} events, head {report.head_seq}:{report.head_sha256}")
