"""API tokens for auditors and scripts: `create` prints the token once; `list`; `revoke ID`."""
from django.core.management import BaseCommand, CommandError

from compliance.access.management.cli import add_by_argument, cli_audit, user_named
from compliance.access.models import ApiToken, Role
from compliance.access.services import api_token_create, api_token_revoke


class Command(BaseCommand):
    help = "Create (the token is printed once), list or revoke API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a token and print it once")
        create.add_argument("--user", required=True, metavar="NAME", help="the user the token acts as")
        create.add_argument("--role", choices=Role.values,
                            help="at most this role's rights (default: all of the user's roles)")
        create.add_argument("--label", default="", help="what it is for")
        add_by_argument(create)
        listing = sub.add_parser("list", help="tokens with their state (never the token itself)")
        listing.add_argument("--user", metavar="NAME")
        revoke = sub.add_parser("revoke", help="revoke a token for good")
        revoke.add_argument("id", type=int)
        add_by_argument(revoke)

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_create(self, *, user, role, label, by, **_):
        owner = user_named(user)
        with cli_audit("api_token", by):
            try:
                token, plaintext = api_token_create(user=owner, role=role or "", label=label,
                                                    created_by=user_named(by) if by else None)
            except ValueError as exc:
                raise CommandError(str(exc))
        self.stderr.write(f"token {token.pk} for {owner.get_username()} (role cap: {role or 'none'}); "
                          "shown this once, use it as 'Authorization: Token <token>':")
        self.stdout.write(plaintext)

    def handle_list(self, *, user, **_):
        tokens = ApiToken.objects.select_related("user").order_by("-created_at", "-id")
        if user:
            tokens = tokens.filter(user=user_named(user))
        self.stdout.write(f"{'id':>5}  {'state':<8} {'prefix':<13} {'user':<20} {'role':<8} {'last used':<17} label")
        for token in tokens:
            state = "revoked" if token.revoked_at else "live"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(f"{token.pk:>5}  {state:<8} {token.prefix + '…':<13} {token.user.get_username():<20} "
                              f"{token.role or '-':<8} {used:<17} {token.label}")

    def handle_revoke(self, *, id, by, **_):
        token = ApiToken.objects.filter(pk=id).first()
        if token is None:
            raise CommandError(f"no API token with id {id}")
        with cli_audit("api_token", by):
            token = api_token_revoke(token=token, revoked_by=user_named(by) if by else None)
        self.stdout.write(f"token {token.pk} revoked at {token.revoked_at:%Y-%m-%d %H:%M:%S}Z")
