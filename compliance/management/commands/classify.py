"""`manage.py classify`: a chip (catalog name, PCI id or bare figures) under the rules of a date,
and with --destination the licence answer; `--list` prints the catalog."""
import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from compliance.classify_request import ClassifyInputError, ClassifyRequest, classify_request, cli_spelling
from compliance.core import MOVEMENTS
from compliance.core.regimes import QUANTITY_LABELS
from compliance.core.catalog import default_catalog


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--as-of {text!r} is not a date (YYYY-MM-DD)") from None


def eccn_label(answer: dict) -> str:
    """'3A090.a (3A090.a.1)': the ECCN, with the paragraph only when it says more.  Undetermined only
    when the classification is (``needed_for``), naming its own unknowns, not the licence answer's."""
    if answer.get("undetermined"):  # a system: a chip inside could not be classified
        return f"undetermined ({answer['undetermined']})"
    if "needed_for" in answer:
        unknown = answer.get("classification_missing", answer["missing"])
        return f"undetermined ({', '.join(QUANTITY_LABELS.get(name, name) for name in unknown)} unknown)"
    if not answer["eccn"]:
        return "not 3A090"
    paragraph = answer["paragraph"]
    return answer["eccn"] + (f" (paragraph {paragraph})" if paragraph and paragraph != answer["eccn"] else "")


def item_label(answer: dict) -> str:
    """What was classified, by catalog key as the catalogs name it: a chip, a system, or the figures given."""
    if answer.get("chip"):
        return answer["chip"]
    if answer.get("system"):
        return f"{answer['system']['key']} ({answer['system']['model']})"
    return "HBM stack" if "hbm_bandwidth_density" in answer else "chip of the figures given"


def _figure(value) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}" if float(value).is_integer() else str(value)


def step_line(step: dict) -> str:
    """One explanation step in words: 'TPP >= 4800: 4000 → not met', 'X in force on D (from E): yes'."""
    test, limit = step["test"], step["limit"]
    if isinstance(step["value"], str):  # the date test: is the rule in force
        return f"{test} (from {limit}): {'yes' if step['result'] else 'no'}"
    if isinstance(limit, bool) and test.endswith(f" {step['operator']} {limit}"):
        test = test.removesuffix(str(limit)) + _figure(limit)
    outcome = {True: "met", False: "not met", None: "unknown"}[step["result"]]
    return f"{test}: {_figure(step['value'])} → {outcome}"


class Command(BaseCommand):
    help = "Classify a chip (catalog model, PCI id or bare figures) under the rules in force on a date."

    def add_arguments(self, parser):
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--model", help="catalog key, NVML name or short name, e.g. 'H100', 'NVIDIA H800'")
        what.add_argument("--pci-device-id", help="e.g. 0x2324")
        what.add_argument("--tpp", type=float, help="total processing performance")
        what.add_argument("--hbm-bandwidth-density", type=float, metavar="GBPS_PER_MM2",
                          help="a stand-alone HBM stack (3A090.c)")
        what.add_argument("--list", action="store_true", help="list the catalog (keys, models, short names)")
        parser.add_argument("--die-area", type=float, metavar="MM2")
        parser.add_argument("--io-bandwidth", type=float, metavar="GBPS")
        parser.add_argument("--dram-bandwidth", type=float, metavar="GBPS")
        dc = parser.add_mutually_exclusive_group()
        dc.add_argument("--datacenter", dest="datacenter", action="store_const", const=True)
        dc.add_argument("--not-datacenter", dest="datacenter", action="store_const", const=False)
        parser.add_argument("--as-of", type=str, metavar="YYYY-MM-DD")
        parser.add_argument("--destination", metavar="CC")
        parser.add_argument("--headquarters", metavar="CC")
        parser.add_argument("--ultimate-parent-hq", metavar="CC")
        parser.add_argument("--movement", choices=MOVEMENTS,
                            help="how the item moves (91 FR 1684 distinguishes exports from the US)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **o):
        if o["list"]:
            return self._list(o["json"])
        request = ClassifyRequest(
            model=o["model"], pci_device_id=o["pci_device_id"], tpp=o["tpp"],
            hbm_bandwidth_density=o["hbm_bandwidth_density"], die_area=o["die_area"],
            io_bandwidth=o["io_bandwidth"], dram_bandwidth=o["dram_bandwidth"], datacenter=o["datacenter"],
            as_of=_date(o["as_of"]) if o["as_of"] else None, destination=o["destination"],
            headquarters=o["headquarters"], ultimate_parent_hq=o["ultimate_parent_hq"], movement=o["movement"],
        )
        try:
            answer = classify_request(request, today=timezone.localdate(), spell=cli_spelling)
        except ClassifyInputError as exc:
            raise CommandError(str(exc)) from None
        if o["json"]:
            self.stdout.write(json.dumps(answer, sort_keys=True))
            return
        self._text(answer)

    def _list(self, as_json: bool):
        chips = [{"key": c.key, "vendor": c.vendor, "model": c.model, "aliases": list(c.aliases),
                  "nvml_names": list(c.nvml_names)} for c in default_catalog()]
        if as_json:
            self.stdout.write(json.dumps(chips, sort_keys=True))
            return
        for c in chips:
            self.stdout.write(f"{c['key']:<14} {c['vendor']} {c['model']}"
                              + (f"  (also: {', '.join(c['aliases'])})" if c["aliases"] else ""))

    def _text(self, answer: dict):
        self.stdout.write(f"{item_label(answer)} as of {answer['as_of']}: "
                          f"ECCN {eccn_label(answer)} ({answer['rule'] or 'no 3A090 rule in force'})")
        if "hbm_bandwidth_density" in answer:
            self.stdout.write(f"  HBM memory bandwidth density {_figure(answer['hbm_bandwidth_density'])} GB/s/mm2")
        else:
            self.stdout.write(f"  TPP {_figure(answer['tpp'])}, "
                              f"performance density {_figure(answer['performance_density'])}")
        for step in answer["explanation"]:
            self.stdout.write(f"  - {step_line(step)}  [{step['citation']}]")
        if "license_required" not in answer:
            return
        how = f" ({answer['movement'].replace('_', ' ')})" if answer["movement"] else ""
        self.stdout.write(f"  licence to {answer['destination']}{how}: {answer['headline']}")
        for title, key, mark in (("reasons", "reasons", "·"), ("conditions", "conditions", "?"),
                                 ("unconfirmed", "unconfirmed", "‼"), ("warnings", "warnings", "!")):
            for line in answer[key]:
                self.stdout.write(f"    {mark} {line}")
        if answer["missing"]:
            self.stdout.write(f"    missing: {'; '.join(answer['missing'])}")
