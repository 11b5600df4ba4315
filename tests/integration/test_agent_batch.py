"""The agent draining its spool through POST /api/v1/reports/batch of a real server (gunicorn on
loopback, real PostgreSQL): one request for the whole spool, reports stored once and in order, the
identity sent in full once, a refused report moved aside while the others are acknowledged."""
import json

import pytest
import requests
from chipwatch_agent import nvml_fake, protocol
from chipwatch_agent.daemon import Agent
from chipwatch_agent.state import Config, Paths, save_private_key
from chipwatch_agent.transport import Backoff, Sender
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from inventory.models import Observation
from inventory.services.enrollment import agent_enroll, enrollment_secret_create
from tests.integration.servers import Gunicorn

pytestmark = pytest.mark.integration


@pytest.fixture
def server(postgres_url, transactional_db):
    from django.db import connection

    database_url = postgres_url.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    server = Gunicorn(database_url, env={"CHIPWATCH_ACCEPT_SYNTHETIC": "1", "REDIS_URL": "",
                                         "CELERY_BROKER_URL": ""}).start()
    yield server
    server.stop()


@pytest.fixture
def agent(server, cluster, tmp_path):
    """The agent (in this process) enrolled with the server; `agent.paths_sent` lists the request paths."""
    _, secret = enrollment_secret_create(label="batch", cluster=cluster)
    key = Ed25519PrivateKey.generate()
    enrolled = agent_enroll(secret=secret, public_key=protocol.public_key_b64(key), hostname="hgx-batch",
                            machine_id="c" * 32)
    paths = Paths.resolve(str(tmp_path / "state"))
    paths.state_dir.mkdir(mode=0o700)
    save_private_key(paths.key, key)
    config = Config(server_url=server.url, agent_id=str(enrolled.id), host_id=enrolled.host_id,
                    backoff_base_seconds=1, backoff_cap_seconds=8, request_timeout_seconds=30)
    config.save(paths.config)
    session = requests.Session()
    sent_paths: list[str] = []
    session.hooks["response"].append(lambda response, *args, **kwargs: sent_paths.append(response.request.path_url))
    sender = Sender(config.server_url, config.agent_id, key, config.request_timeout_seconds, session=session)
    daemon = Agent(paths, config, nvml_fake.FakeNvml.from_profile("hgx-h800"), "fake", sender,
                   backoff=Backoff(1, 8))
    daemon.paths_sent = sent_paths
    return daemon


class _Never:
    def is_set(self):
        return False


def test_a_spool_after_an_outage_is_drained_in_one_request_in_order(agent):
    for _ in range(6):
        agent.collect_and_spool()
    agent.deliver(_Never())
    assert agent.paths_sent == ["/api/v1/reports/batch"]
    assert agent.spool.entries() == []
    stored = list(Observation.objects.order_by("id").values_list("sequence", "full_identity"))
    assert [sequence for sequence, _ in stored] == list(range(1, 7))
    assert [full for _, full in stored] == [True] + [False] * 5  # the identity once, then its hash
    agent.collect_and_spool()
    agent.deliver(_Never())  # one report waiting: the single endpoint, lean
    assert agent.paths_sent[-1] == "/api/v1/reports"
    assert Observation.objects.order_by("-id").values_list("full_identity", flat=True)[0] is False


def test_a_refused_report_in_a_batch_is_moved_aside_and_the_others_are_acknowledged(agent):
    first = agent.collect_and_spool()
    agent.deliver(_Never())
    for _ in range(3):
        agent.collect_and_spool()
    # A second copy of an acknowledged report under a new report_id: a replayed sequence (409).
    replay = dict(first, report_id="0190f5a2-7c3e-7d41-9b2a-000000000001", sequence=first["sequence"])
    (agent.spool.directory / f"{replay['sequence']:016d}-{replay['report_id']}.json").write_bytes(
        protocol.canonical_json(replay))
    agent.deliver(_Never())
    assert agent.paths_sent[-1] == "/api/v1/reports/batch"
    assert agent.spool.entries() == []
    (rejected,) = (agent.spool.directory / "rejected").iterdir()
    assert json.loads(rejected.read_bytes())["report_id"] == replay["report_id"]
    assert agent.state.rejected_reports == 1
    assert list(Observation.objects.order_by("id").values_list("sequence", flat=True)) == [1, 2, 3, 4]
