"""`make run`: the whole service on the embedded default with a simulated fleet of agents.

Loads the demo inventory, creates a demo admin login (printed), starts the web server, then
enrolls one real `chipwatch-agent` process per demo host — each replaying a fake-NVML profile,
so its reports are marked synthetic — which report every `--interval` seconds.
"""
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.request import urlopen

from chipwatch_agent import snapshot
from chipwatch_agent.nvml_fake import load_snapshot, own_identity, unlock_nvlinks
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from inventory.demo import demo_hosts, demo_inventory_load
from inventory.services.enrollment import enrollment_secret_create

DEMO_USER = "admin"


class Command(BaseCommand):
    help = "Run chipwatch with a demo inventory and a simulated fleet of agents (embedded mode)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port to serve on")
        parser.add_argument("--interval", type=int, default=30, help="seconds between agent reports")
        parser.add_argument("--no-agents", action="store_true", help="serve the demo inventory only")

    def handle(self, *args, addr, interval, no_agents, **options):
        if not settings.CHIPWATCH_ACCEPT_SYNTHETIC:
            raise CommandError("the demo fleet sends synthetic reports: set CHIPWATCH_ACCEPT_SYNTHETIC=1")
        clusters = demo_inventory_load()
        password = self._demo_login()
        self.stdout.write(self.style.SUCCESS(
            f"\nchipwatch demo on http://{addr}/  —  log in as {DEMO_USER!r} with password {password!r}\n"))
        agents: list[subprocess.Popen] = []
        if not no_agents:
            threading.Thread(target=self._start_fleet, args=(addr, interval, clusters, agents), daemon=True).start()
        try:
            call_command("runserver", addr, use_reloader=False, use_threading=True)
        finally:
            for proc in agents:
                proc.send_signal(signal.SIGTERM)
            for proc in agents:
                proc.wait(15)

    def _demo_login(self) -> str:
        """A fresh password each start, so the demo never ships a known credential."""
        password = secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USER, defaults={"email": "admin@demo.invalid"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password

    def _start_fleet(self, addr, interval, clusters, agents):
        base = f"http://{addr}"
        for _ in range(100):
            try:
                urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        state_root = Path(settings.VAR_DIR) / "demo-agents"
        agent_cli = [sys.executable, "-m", "chipwatch_agent"]
        for host in demo_hosts():
            state = state_root / host.hostname
            env = dict(os.environ, CHIPWATCH_AGENT_HOSTNAME=host.hostname,
                       CHIPWATCH_AGENT_MACHINE_ID=f"demo-{host.hostname}")
            common = ["--state-dir", str(state), "--fake-nvml", str(self._own_snapshot(state, host)),
                      "--log-level", "WARNING"]
            if not (state / "config.json").exists() and not self._enroll(agent_cli, common, base, env, host, clusters):
                continue
            agents.append(subprocess.Popen([*agent_cli, "run", *common, "--interval", str(interval)], env=env))
        self.stdout.write(f"simulated fleet: {len(agents)} agents reporting every {interval} s")

    @staticmethod
    def _own_snapshot(state: Path, host) -> Path:
        """The host's profile with GPU identities of its own: hosts sharing a profile are not clones."""
        path = state / "nvml-snapshot.json"
        if not path.exists():
            state.mkdir(mode=0o700, parents=True, exist_ok=True)
            recorded = own_identity(load_snapshot(host.profile), host.hostname)
            if host.planted == "unlocked-nvlinks":
                recorded = unlock_nvlinks(recorded)
            path.write_bytes(snapshot.dumps(recorded))
        return path

    def _enroll(self, agent_cli, common, base, env, host, clusters, attempts=3) -> bool:
        """Enroll one demo agent, retrying while the embedded server is busy (a 503 is retryable)."""
        _, secret = enrollment_secret_create(label=f"demo {host.hostname}", cluster=clusters[host.cluster],
                                             max_uses=1)
        for attempt in range(attempts):
            enrolled = subprocess.run([*agent_cli, "enroll", *common, "--server", base, "--secret-file", "-"],
                                      input=secret, text=True, capture_output=True, env=env)
            if enrolled.returncode == 0:
                return True
            time.sleep(1 + attempt)
        self.stderr.write(f"demo agent {host.hostname}: enroll failed: {enrolled.stderr.strip()}")
        return False
