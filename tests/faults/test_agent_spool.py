"""The agent process against a real server when its disk fills or its spool bound is reached.

tests/unit/agent covers the spool and the drop counters in-process; here the installed
`chipwatch-agent run` meets a real full filesystem (a 64 KiB tmpfs mounted on its spool, root
only) and a real gunicorn that goes away and comes back.  The agent never stops, `status` says
what is wrong, drops are counted, and the server learns every drop from the reports themselves."""
import json
import os
import subprocess

import pytest

from inventory.models import Observation
from inventory.services.enrollment import enrollment_secret_create
from tests.integration.conftest import wait_for
from tests.integration.test_agent_server import agent_cmd, agent_status, server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def enroll(server, cluster, state, **config):
    _, secret = enrollment_secret_create(label="faults", cluster=cluster, max_uses=1)
    done = subprocess.run(agent_cmd(state, "enroll", "--server", server.url, "--secret-file", "-"), input=secret,
                          text=True, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    path = state / "config.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), backoff_base_seconds=0.3,
                                    backoff_cap_seconds=1, **config)))


def drain_and_stop(agent, state):
    agent.terminate()
    assert agent.wait(30) == 0
    for _ in range(5):
        if agent_status(state)["spool_depth"] == 0:
            return agent_status(state)
        subprocess.run(agent_cmd(state, "run", "--once"), capture_output=True, timeout=60)
    raise AssertionError("the spool did not drain")


def stored_sequences() -> list[int]:
    return list(Observation.objects.order_by("sequence").values_list("sequence", flat=True))


def told_drops() -> int:
    return max((p["agent"].get("dropped_total", 0) for p in Observation.objects.values_list("payload", flat=True)),
               default=0)


@pytest.fixture
def tiny_spool(tmp_path):
    """The agent's spool directory on a 64 KiB tmpfs: room for two or three HGX reports."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    spool = tmp_path / "agent" / "spool"
    spool.mkdir(parents=True, mode=0o700)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(spool)],
                             capture_output=True, text=True, timeout=30)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield spool
    finally:
        subprocess.run(["umount", "-l", str(spool)], timeout=30)


def test_full_disk_keeps_the_agent_running_and_every_loss_is_reported(server, cluster, tmp_path, tiny_spool):
    state = tmp_path / "agent"
    enroll(server, cluster, state)
    server.stop()
    agent = subprocess.Popen(agent_cmd(state, "run", "--interval", "0.3"))
    try:
        wait_for(lambda: (agent_status(state)["dropped_total"] or 0) >= 3, what="the full disk to drop reports")
        status = agent_status(state)
        assert "No space left on device" in status["spool_error"] and agent.poll() is None
        assert status["spool_depth"] >= 1  # what fitted is kept
        server.start()
        wait_for(lambda: agent_status(state)["spool_error"] is None and Observation.objects.count() >= 4,
                 what="delivery to free the disk and spooling to resume")
    finally:
        status = drain_and_stop(agent, state)
    stored = stored_sequences()
    assert len(stored) == len(set(stored)), "a report was stored twice"
    assert len(stored) + status["dropped_total"] == status["next_sequence"] - 1, "a loss went uncounted"
    assert told_drops() == status["dropped_total"], "the server was not told of every drop"


def test_spool_bound_drops_the_oldest_and_the_server_is_told(server, cluster, tmp_path):
    state = tmp_path / "agent"
    enroll(server, cluster, state, spool_max_files=2)
    server.stop()
    agent = subprocess.Popen(agent_cmd(state, "run", "--interval", "0.3"))
    try:
        wait_for(lambda: agent_status(state)["next_sequence"] >= 7, what="reports to pile up past the bound")
        assert agent_status(state)["spool_depth"] == 2
        server.start()
        wait_for(lambda: Observation.objects.count() >= 3, what="delivery after the outage")
    finally:
        status = drain_and_stop(agent, state)
    missing = set(range(1, status["next_sequence"])) - set(stored_sequences())
    assert missing == set(range(1, len(missing) + 1)), f"not the oldest were dropped: {sorted(missing)}"
    assert len(missing) == status["dropped_total"] >= 4
    assert told_drops() == status["dropped_total"]
