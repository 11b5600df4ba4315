import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from compliance.classify_request import ClassifyInputError, ClassifyRequest, classify_request


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--as-of {text!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Classify a chip (catalog model, PCI id or bare figures) under the rules in force on a date."

    def add_arguments(self, parser):
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--model", help="catalog key or any name NVML reports, e.g. 'NVIDIA H800'")
        what.add_argument("--pci-device-id", help="e.g. 0x2324")
        what.add_argument("--tpp", type=float, help="total processing performance")
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
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **o):
        request = ClassifyRequest(
            model=o["model"], pci_device_id=o["pci_device_id"], tpp=o["tpp"], die_area=o["die_area"],
            io_bandwidth=o["io_bandwidth"], dram_bandwidth=o["dram_bandwidth"], datacenter=o["datacenter"],
            as_of=_date(o["as_of"]) if o["as_of"] else None, destination=o["destination"],
            headquarters=o["headquarters"], ultimate_parent_hq=o["ultimate_parent_hq"],
        )
        try:
            answer = classify_request(request, today=timezone.localdate())
        except ClassifyInputError as exc:
            raise CommandError(str(exc)) from None
        if o["json"]:
            self.stdout.write(json.dumps(answer, sort_keys=True))
            return
        self.stdout.write(f"{answer.get('chip') or (answer.get('system') or {}).get('model') or 'spec'} as of {answer['as_of']}: "
                          f"{answer['eccn'] or 'not 3A090'} {answer['paragraph'] or ''} ({answer['rule'] or 'no rule'})")
        self.stdout.write(f"  TPP {answer['tpp']}, performance density {answer['performance_density']}")
        for reason in answer.get("classification_reasons", []):  # a system: why 4A090 / .z
            self.stdout.write(f"  * {reason}")
        for step in answer["explanation"]:
            self.stdout.write(f"  - {step['test']}: {step['value']} → {step['result']}  [{step['citation']}]")
        if "license_required" in answer:
            self.stdout.write(f"  licence to {answer['destination']}: "
                              f"{'required' if answer['license_required'] else 'not required'}"
                              f" ({answer['review_policy'] or '-'})")
            for reason in answer["reasons"]:
                self.stdout.write(f"    · {reason}")
            for warning in answer["warnings"]:
                self.stdout.write(f"    ! {warning}")
