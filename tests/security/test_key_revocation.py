"""A stolen or retired agent key is revoked by an officer, and the very next report signed with it
is refused: end to end through gunicorn (two workers, no cache in between) and the installed
agent, which files the refused report under rejected/ and says so in `status`.  Enrollment by the
agent process leaks the secret nowhere: not in its output, not in its files."""
import subprocess

import pytest

from inventory.models import Agent, IngestRejection, Observation
from inventory.services.enrollment import agent_revoke, enrollment_secret_create
from tests.integration.test_agent_server import agent_cmd, agent_status, server  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


def test_revocation_takes_effect_on_the_next_report(server, cluster, tmp_path):
    _, secret = enrollment_secret_create(label="it", cluster=cluster, max_uses=1)
    state = tmp_path / "agent"
    enrolled = subprocess.run(agent_cmd(state, "enroll", "--server", server.url, "--secret-file", "-"),
                              input=secret, text=True, capture_output=True, timeout=60)
    assert enrolled.returncode == 0, enrolled.stderr
    assert secret not in enrolled.stdout + enrolled.stderr
    assert all(secret not in path.read_text(errors="replace") for path in state.rglob("*") if path.is_file())

    once = agent_cmd(state, "run", "--once")
    assert subprocess.run(once, capture_output=True, timeout=60).returncode == 0
    assert Observation.objects.count() == 1

    agent_revoke(agent=Agent.objects.get())
    assert subprocess.run(once, capture_output=True, timeout=60).returncode == 0  # the agent keeps running
    status = agent_status(state)
    assert status["rejected_reports"] == 1 and "403" in status["last_error"] and "agent_revoked" in status["last_error"]
    assert list((state / "spool" / "rejected").glob("*.json"))
    assert Observation.objects.count() == 1
    assert IngestRejection.objects.filter(reason="agent_revoked").count() == 1
