"""python manage.py screen "NAME" [--country CC] [--limit N] [--json] — screen a name without creating anything."""
import json

from django.core.management.base import BaseCommand, CommandError

from compliance.screening.adhoc import AdhocScreeningError, NoScreeningList, adhoc_query, screening_match


class Command(BaseCommand):
    help = ("Screen one name against the current Consolidated Screening List and print the best entries with "
            "their explained scores.  Nothing is written.  Exit status 1 when an entry reaches the threshold, "
            "2 when nothing could be screened.")

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--country", metavar="CC", help="ISO 3166-1 alpha-2 code of the party's country")
        parser.add_argument("--limit", type=int, default=None, help="how many entries to show (default 5)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the answer as one JSON object")

    def handle(self, *args, name: str, country: str | None, limit: int | None, as_json: bool, **options):
        try:
            answer = screening_match(adhoc_query(name=name, country=country, limit=limit))
        except AdhocScreeningError as exc:
            raise CommandError(str(exc).replace("country:", "--country:").replace("limit:", "--limit:"),
                               returncode=2) from None
        except NoScreeningList as exc:
            raise CommandError(f"{exc}; nothing was screened", returncode=2) from None
        if as_json:
            self.stdout.write(json.dumps(answer, ensure_ascii=False, sort_keys=True))
        else:
            self._print(answer)
        if answer["matches"]:
            raise SystemExit(1)

    def _print(self, answer: dict) -> None:
        listed = answer["list"]
        self.stdout.write(f"{answer['query']['name']!r} against {listed['source']} {listed['version']} "
                          f"({listed['entry_count']} entries, sha256 {listed['sha256'][:12]}…), "
                          f"threshold {answer['threshold']:.2f}: {answer['matches']} match(es), "
                          f"{answer['candidates_compared']} candidate(s) compared")
        for result in answer["results"]:
            entry, why = result["entry"], result["explanation"]
            name = why["name"]
            verdict = "MATCH" if result["match"] else "below threshold"
            self.stdout.write(f"  {result['score']:.2f}  {verdict:<15}  {entry['name']} ({entry['source_code']}, "
                              f"{', '.join(entry['countries']) or 'no country'}) {entry['federal_register_notice']}")
            self.stdout.write(f"        name {name['score']:.2f}: {name['query_name']!r} ~ {name['list_name']!r}"
                              f" [{name['readings']['query']}]; matched "
                              f"{', '.join(f'{q}={l} {s:.2f}' for q, l, s in name['matched_tokens']) or 'nothing'}"
                              f"; unmatched {name['unmatched_query_tokens'] + name['unmatched_list_tokens'] or '-'}")
            self.stdout.write(f"        country {why['country']['result']} ({why['country']['delta']:+.2f}), "
                              f"city {why['city']['result']} ({why['city']['delta']:+.2f})")
