"""`manage.py rules timeline [--country CC] [--since DATE] [--json]`: what changed when, with sources;
`manage.py rules doc [--write]`: docs/rules.md generated from the rule data."""
import json
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from compliance.core.ruledata import default_rule_data
from compliance.core.timeline import render_markdown, timeline

RULES_DOC = Path(settings.BASE_DIR) / "docs" / "rules.md"


class Command(BaseCommand):
    help = "The dated rules and facts the engine applies: a timeline, or docs/rules.md."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        line = sub.add_parser("timeline", help="what changed when, with sources")
        line.add_argument("--country", metavar="CC", help="ISO code: its events and those applying everywhere")
        line.add_argument("--since", metavar="YYYY-MM-DD")
        line.add_argument("--json", action="store_true")
        doc = sub.add_parser("doc", help="print docs/rules.md (or --write it)")
        doc.add_argument("--write", action="store_true", help=f"write {RULES_DOC.relative_to(settings.BASE_DIR)}")

    def handle(self, *args, **o):
        if o["action"] == "doc":
            text = render_markdown()
            if o["write"]:
                RULES_DOC.write_text(text, encoding="utf-8")
                self.stdout.write(f"wrote {RULES_DOC}")
            else:
                self.stdout.write(text, ending="")
            return
        try:
            since = date.fromisoformat(o["since"]) if o["since"] else None
        except ValueError:
            raise CommandError(f"--since {o['since']!r} is not a date (YYYY-MM-DD)") from None
        try:
            country = default_rule_data().country(o["country"]) if o["country"] else None
        except ValueError as exc:
            raise CommandError(f"--country: {exc}") from None
        events = timeline(country=country, since=since)
        if o["json"]:
            self.stdout.write(json.dumps([e.to_dict() for e in events], sort_keys=True))
            return
        for e in events:
            when = e.date.isoformat() if e.date else "(before)"
            self.stdout.write(f"{when}  {e.country or 'all':<3}  {e.kind:<18} {e.summary}")
            self.stdout.write(f"{'':17}source: {e.source} [{e.confidence}]")
