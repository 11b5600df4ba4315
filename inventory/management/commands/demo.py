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


class Fleet:
    """The demo's agent processes: none is started once stopping began, every one is ended by stop()."""

    def __init__(self):
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen] = []
        self.stopping = False

    @property
    def size(self) -> int:
        return len(self._procs)

    def spawn(self, argv: list[str], env: dict) -> bool:
        with self._lock:
            if self.stopping:
                return False
            self._procs.append(subprocess.Popen(argv, env=env))
            return True

    def stop(self, grace_seconds: float = 15) -> None:
        """SIGTERM (an agent finishes its current send and exits 0), then SIGKILL whatever outlives the grace."""
        with self._lock:
            self.stopping = True
            procs = list(self._procs)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for proc in procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
        fleet = Fleet()
        starter = threading.Thread(target=self._start_fleet, args=(addr, interval, clusters, fleet), daemon=True)
        # SIGTERM (a supervisor, `kill`) ends the server like Ctrl-C does, so the fleet below is stopped too.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            if not no_agents:
                starter.start()
            call_command("runserver", addr, use_reloader=False, use_threading=True)
        finally:
            fleet.stop()
            if starter.is_alive():
                starter.join(30)

    def _demo_login(self) -> str:
        """A fresh password each start, so the demo never ships a known credential."""
        password = secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USER, defaults={"email": "admin@demo.invalid"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password

    def _start_fleet(self, addr, interval, clusters, fleet: Fleet):
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
            if fleet.stopping:
                return
            state = state_root / host.hostname
            env = dict(os.environ, CHIPWATCH_AGENT_HOSTNAME=host.hostname,
                       CHIPWATCH_AGENT_MACHINE_ID=f"demo-{host.hostname}")
            common = ["--state-dir", str(state), "--fake-nvml", str(self._own_snapshot(state, host)),
                      "--log-level", "WARNING"]
            if not (state / "config.json").exists() and not self._enroll(agent_cli, common, base, env, host, clusters):
                continue
            if not fleet.spawn([*agent_cli, "run", *common, "--interval", str(interval)], env=env):
                return
        self.stdout.write(f"simulated fleet: {fleet.size} agents reporting every {interval} s")

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
