"""Run a landmark: accept agents, challenge them on the server's schedule, report signed round trips."""
import logging

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.core.management.base import BaseCommand, CommandError

from compliance.location.landmark import HttpServerLink, Landmark


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise CommandError(f"--listen {text!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


class Command(BaseCommand):
    help = "Run this machine as landmark --landmark-id (see register_landmark), talking to --server over HTTP(S)."

    def add_arguments(self, parser):
        parser.add_argument("--landmark-id", type=int, required=True)
        parser.add_argument("--key-file", required=True, help="the landmark's Ed25519 private key, PEM")
        parser.add_argument("--server", required=True, help="chipwatch base URL, e.g. https://chipwatch.example")
        parser.add_argument("--listen", default="0.0.0.0:7447", help="HOST:PORT agents dial (default %(default)s)")
        parser.add_argument("--rounds", type=int, default=10, help="nonces per challenge; the minimum RTT counts")
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between claims from the server")

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO)
        with open(options["key_file"], "rb") as handle:
            private_key = load_pem_private_key(handle.read(), password=None)
        server = HttpServerLink(options["server"], options["landmark_id"])
        landmark = Landmark(landmark_id=options["landmark_id"], private_key=private_key, server=server,
                            listen=_listen(options["listen"]), rounds=options["rounds"])
        self.stdout.write(f"landmark {options['landmark_id']} listening on {landmark.address[0]}:{landmark.address[1]}")
        try:
            landmark.serve_forever(interval_s=options["interval"])
        except KeyboardInterrupt:
            pass
        finally:
            landmark.close()
            server.close()
