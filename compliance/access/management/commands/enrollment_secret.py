"""Enrollment secrets for operators: `create` prints the secret once; `list`; `revoke ID`."""
from datetime import timedelta

from django.core.management import BaseCommand, CommandError
from django.utils import timezone

from compliance.access.enrollment import enrollment_secret_revoke
from compliance.access.management.cli import add_by_argument, cli_audit
from compliance.access.selectors import enrollment_secret_state
from inventory.models import Cluster, EnrollmentSecret
from inventory.services.enrollment import enrollment_secret_create


def cluster_named(name: str) -> Cluster:
    """NAME, or SITE/NAME where several sites have a cluster of that name."""
    site, _, cluster = name.rpartition("/")
    candidates = Cluster.objects.filter(name=cluster).select_related("site")
    if site:
        candidates = candidates.filter(site__name=site)
    found = list(candidates[:10])
    if not found:
        raise CommandError(f"no cluster named {name!r}")
    if len(found) > 1:
        raise CommandError(f"several clusters are named {name!r}: give one of "
                           + ", ".join(f"{c.site.name}/{c.name}" for c in found))
    return found[0]


class Command(BaseCommand):
    help = "Create (the secret is printed once), list or revoke enrollment secrets."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a secret and print it once")
        create.add_argument("--cluster", required=True, metavar="NAME",
                            help="the cluster enrolled hosts join (NAME or SITE/NAME)")
        create.add_argument("--uses", type=int, metavar="N", help="how many hosts it may enroll (default: any)")
        create.add_argument("--expires", type=int, metavar="DAYS", help="days until it expires (default: never)")
        create.add_argument("--label", help="what it is for (default: the cluster and the date)")
        add_by_argument(create)
        sub.add_parser("list", help="every secret with its state (never the secret itself)")
        revoke = sub.add_parser("revoke", help="revoke a secret for good")
        revoke.add_argument("id", type=int)
        add_by_argument(revoke)

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_create(self, *, cluster, uses, expires, label, by, **_):
        if uses is not None and uses < 1:
            raise CommandError("--uses must be at least 1")
        if expires is not None and expires < 1:
            raise CommandError("--expires must be at least 1 day")
        target = cluster_named(cluster)
        now = timezone.now()
        with cli_audit("enrollment_secret", by):
            secret, plaintext = enrollment_secret_create(
                label=label or f"{target.name} {now:%Y-%m-%d}", cluster=target, max_uses=uses,
                expires_at=now + timedelta(days=expires) if expires else None)
        self.stderr.write(f"enrollment secret {secret.pk} for cluster {target.site.name}/{target.name} "
                          f"(uses: {uses or 'any'}, expires: {secret.expires_at or 'never'}); shown this once:")
        self.stdout.write(plaintext)

    def handle_list(self, **_):
        now = timezone.now()
        self.stdout.write(f"{'id':>5}  {'state':<8} {'uses':>9}  {'expires':<20} {'cluster':<30} label")
        for secret in EnrollmentSecret.objects.select_related("cluster__site").order_by("-created_at", "-id"):
            cluster = f"{secret.cluster.site.name}/{secret.cluster.name}" if secret.cluster else "-"
            uses = f"{secret.uses}/{secret.max_uses if secret.max_uses is not None else 'any'}"
            expires = f"{secret.expires_at:%Y-%m-%d %H:%M}" if secret.expires_at else "never"
            self.stdout.write(f"{secret.pk:>5}  {enrollment_secret_state(secret, now):<8} {uses:>9}  "
                              f"{expires:<20} {cluster:<30} {secret.label}")

    def handle_revoke(self, *, id, by, **_):
        secret = EnrollmentSecret.objects.filter(pk=id).first()
        if secret is None:
            raise CommandError(f"no enrollment secret with id {id}")
        with cli_audit("enrollment_secret", by):
            secret = enrollment_secret_revoke(secret=secret)
        self.stdout.write(f"enrollment secret {secret.pk} revoked at {secret.revoked_at:%Y-%m-%d %H:%M:%S}Z")
