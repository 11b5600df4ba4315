"""Register a landmark at its declared position with its Ed25519 public key."""
import base64
from pathlib import Path

from chipwatch_agent import protocol
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from compliance.location import services


class Command(BaseCommand):
    help = ("Register a landmark. Give its public key (--public-key, base64 raw Ed25519), or --generate-key FILE to "
            "write a new private key (PEM, mode 0600) for `run_landmark --key-file`.")

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--latitude", type=float, required=True)
        parser.add_argument("--longitude", type=float, required=True)
        parser.add_argument("--country", required=True, help="ISO 3166-1 alpha-2 of the declared position")
        parser.add_argument("--address", default="", help="HOST:PORT agents dial")
        key = parser.add_mutually_exclusive_group(required=True)
        key.add_argument("--public-key")
        key.add_argument("--generate-key", type=Path, metavar="FILE")

    def handle(self, *args, **options):
        public_key = options["public_key"]
        if options["generate_key"]:
            path: Path = options["generate_key"]
            if path.exists():
                raise CommandError(f"{path} exists; refusing to overwrite a key")
            private_key = Ed25519PrivateKey.generate()
            path.touch(mode=0o600)
            path.write_bytes(private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
            public_key = protocol.public_key_b64(private_key)
        try:
            base64.b64decode(public_key, validate=True)
            landmark = services.landmark_register(
                name=options["name"], latitude=options["latitude"], longitude=options["longitude"],
                country=options["country"], public_key=public_key, address=options["address"])
        except (ValidationError, ValueError) as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"landmark {landmark.pk} {landmark.name} at {landmark.latitude}, {landmark.longitude} "
                          f"({landmark.country}) key {landmark.public_key}")
