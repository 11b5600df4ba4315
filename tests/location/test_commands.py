"""The operator's commands and the production HTTP link, end to end on loopback."""
import pytest
from chipwatch_agent import challenge as wire
from chipwatch_agent import protocol
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.core.management import call_command

from compliance.location.landmark import HttpServerLink, Landmark
from compliance.location.models import Landmark as LandmarkRow
from compliance.location.models import Measurement

from .conftest import wait_for


@pytest.mark.django_db
def test_register_landmark_writes_a_private_key_and_registers_its_public_half(tmp_path, capsys):
    key_file = tmp_path / "landmark.pem"
    call_command("register_landmark", "--name", "SIN-1", "--latitude", "1.29", "--longitude", "103.85",
                 "--country", "sg", "--address", "lm.example:7447", "--generate-key", str(key_file))
    row = LandmarkRow.objects.get(name="SIN-1")
    assert row.country == "SG" and row.provenance == "declared"
    assert key_file.stat().st_mode & 0o077 == 0
    assert protocol.public_key_b64(load_pem_private_key(key_file.read_bytes(), None)) == row.public_key
    assert f"landmark {row.pk} SIN-1" in capsys.readouterr().out


def test_a_landmark_over_http_measures_an_agent_serving_challenges(live_server, transactional_db, enrolled_agent,
                                                                    landmarks):
    agent, key = enrolled_agent
    registered = landmarks["SIN"]
    link = HttpServerLink(live_server.url, registered.row.pk)
    service = Landmark(landmark_id=registered.row.pk, private_key=registered.private_key, server=link,
                       listen=("127.0.0.1", 0), rounds=4)
    stop = wire.serve_challenges(landmarks=[service.address], agent_id=str(agent.id), private_key=key)
    try:
        wait_for(lambda: service.connected_agents(), what="the agent to dial in")
        [outcome] = service.run_cycle()
    finally:
        stop.set()
        service.close()
        link.close()
    assert outcome.response["measurement_id"] == Measurement.objects.get().id
    measurement = Measurement.objects.get()
    assert len(measurement.rtt_samples_ms) == 4 and measurement.rtt_min_ms < 50
    assert measurement.gpu_attestation == Measurement.GpuAttestation.UNSUPPORTED
