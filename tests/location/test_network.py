"""End to end on real networks: the agent in its own network namespace, landmarks timing it over TCP.

Distance is added by delay relays (the kernel has no netem): a landmark behind a
relay with one-way delay d sees the agent as if it were up to c·d farther away.
Delays are those of real fibre paths between real cities, scaled to nothing: a
round costs at most ~60 ms, a test well under two seconds.
"""
import socket
import threading

import pytest
from chipwatch_agent import challenge as wire
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from compliance.location import bounds, services
from compliance.location.landmark import Landmark
from compliance.location.models import Measurement
from compliance.models import Finding

from .conftest import start_agent, start_relay, wait_for, write_key
from .relay import DelayRelay

ROUNDS = 3


def fibre_one_way_ms(km: float) -> float:
    """A realistic one-way delay over `km`: fibre speed and 1.5× path inflation."""
    return 1.5 * km / bounds.C_FIBRE_KM_PER_MS


@pytest.fixture
def running(landmarks, server_link):
    """Start a landmark service for a registered landmark; closed at teardown."""
    started = []

    def run(name: str, *, host: str = "127.0.0.1", answer_timeout_s: float = 2.0) -> Landmark:
        registered = landmarks[name]
        service = Landmark(landmark_id=registered.row.pk, private_key=registered.private_key, server=server_link,
                           listen=(host, 0), rounds=ROUNDS, answer_timeout_s=answer_timeout_s)
        started.append(service)
        return service

    yield run
    for service in started:
        service.close()


@pytest.fixture
def relays():
    started = []

    def relay(*, listen, upstream, delay_ms) -> tuple[str, int]:
        started.append(DelayRelay(listen=listen, upstream=upstream, one_way_delay_s=delay_ms / 1000))
        return started[-1].address

    yield relay
    for relay_ in started:
        relay_.close()


def cycle(services_, django_capture_on_commit_callbacks):
    """One scheduled cycle on every landmark, with the evaluations their commits enqueue."""
    with django_capture_on_commit_callbacks(execute=True):
        return [outcome for service in services_ for outcome in service.run_cycle()]


def place_agent(*, agent, key, tmp_path, namespace, processes, running, relays, one_way_ms: dict, gpu=("--no-gpu",)):
    """Put the agent in `namespace`, `one_way_ms[name]` away from each named landmark."""
    services_, addresses = [], []
    for name, delay in one_way_ms.items():
        service = running(name)
        services_.append(service)
        addresses.append(relays(listen=(namespace.outside_ip, 0), upstream=service.address, delay_ms=delay))
    start_agent(namespace, processes, landmarks=addresses, agent_id=str(agent.id),
                key_file=write_key(tmp_path / "agent.pem", key), gpu=list(gpu))
    for service in services_:
        wait_for(lambda s=service: str(agent.id) in s.connected_agents(), what="the agent to dial the landmark")
    return services_


def _findings(host):
    return {f.kind: f for f in Finding.objects.filter(subject_type="host", subject_id=host.id)}


def test_an_honest_host_in_singapore_is_never_flagged(
        enrolled_agent, landmarks, tmp_path, make_netns, processes, running, relays,
        django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    services_ = place_agent(agent=agent, key=key, tmp_path=tmp_path, namespace=make_netns(), processes=processes,
                            running=running, relays=relays, one_way_ms={
                                "SIN": 0.3, "HKG": fibre_one_way_ms(2590), "SHA": fibre_one_way_ms(3810)})
    outcomes = cycle(services_, django_capture_on_commit_callbacks)
    assert len(outcomes) == 3 and all(o.response for o in outcomes), [o.refused for o in outcomes]
    by_landmark = {m.landmark.name: m for m in Measurement.objects.select_related("landmark")}
    assert len(by_landmark["SIN"].rtt_samples_ms) == ROUNDS
    assert by_landmark["SHA"].rtt_min_ms >= 2 * fibre_one_way_ms(3810)  # the relay's delay is really there
    located = services.host_location(host=agent.host)
    assert not located.assessment.site_excluded
    assert located.assessment.verdict == "allowed"
    assert _findings(agent.host) == {}


def test_a_host_declared_in_singapore_but_answering_shanghai_at_once_is_impossible(
        enrolled_agent, landmarks, tmp_path, make_netns, processes, running, relays,
        django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    services_ = place_agent(agent=agent, key=key, tmp_path=tmp_path, namespace=make_netns(), processes=processes,
                            running=running, relays=relays, one_way_ms={
                                "SHA": 0.3, "HKG": fibre_one_way_ms(1230), "SIN": fibre_one_way_ms(3810)})
    cycle(services_, django_capture_on_commit_callbacks)
    findings = _findings(agent.host)
    assert findings["location_impossible"].severity == Finding.Severity.HIGH
    assert findings["location_impossible"].evidence["figures"]["excluding_discs"][0]["landmark"] in ("SHA", "HKG")
    assert findings["location_in_licence_destination"].evidence["figures"]["region_countries"] == ["CN"]


def test_a_relay_through_a_host_near_the_landmark_cannot_make_a_far_agent_look_near(
        enrolled_agent, landmarks, tmp_path, make_netns, processes, running, relays,
        django_capture_on_commit_callbacks):
    """The agent is ~3,800 km away; an accomplice host sits next to the Singapore landmark and forwards."""
    agent, key = enrolled_agent
    far, near = make_netns(), make_netns()
    singapore = running("SIN", host=near.outside_ip)
    accomplice = start_relay(near, processes, listen=(near.inside_ip, 0), upstream=singapore.address, delay_ms=0.1)
    far_path = relays(listen=(far.outside_ip, 0), upstream=accomplice, delay_ms=fibre_one_way_ms(3810))
    start_agent(far, processes, landmarks=[far_path], agent_id=str(agent.id),
                key_file=write_key(tmp_path / "agent.pem", key))
    wait_for(lambda: str(agent.id) in singapore.connected_agents(), what="the agent to dial through the accomplice")

    cycle([singapore], django_capture_on_commit_callbacks)
    measurement = Measurement.objects.get()
    assert measurement.rtt_min_ms >= 2 * fibre_one_way_ms(3810)  # forwarding adds delay, never removes it
    located = services.host_location(host=agent.host)
    assert located.discs[0].radius_km > 3810  # too wide to place the host in Singapore
    assert located.assessment.verdict != "allowed"


def test_an_accomplice_near_the_landmark_cannot_answer_with_its_own_key(
        enrolled_agent, landmarks, tmp_path, make_netns, processes, running, django_capture_on_commit_callbacks):
    agent, _ = enrolled_agent
    near = make_netns()
    singapore = running("SIN", host=near.outside_ip, answer_timeout_s=0.5)
    start_agent(near, processes, landmarks=[singapore.address], agent_id=str(agent.id),  # claims to be our agent
                key_file=write_key(tmp_path / "accomplice.pem", Ed25519PrivateKey.generate()))
    wait_for(lambda: str(agent.id) in singapore.connected_agents(), what="the accomplice to dial in")

    [outcome] = cycle([singapore], django_capture_on_commit_callbacks)
    assert outcome.report is None and outcome.refused["bad_signature"] == ROUNDS
    assert Measurement.objects.count() == 0


def test_answers_to_an_earlier_nonce_are_never_timed(
        enrolled_agent, landmarks, running, django_capture_on_commit_callbacks):
    """A responder that replays its previous answer (precomputed, instant) never gets a round counted."""
    agent, key = enrolled_agent
    singapore = running("SIN", answer_timeout_s=0.3)
    link = wire.LineSocket(socket.create_connection(singapore.address))
    link.send({"type": "hello", "agent_id": str(agent.id), "protocol": wire.PROTOCOL_VERSION})
    wait_for(lambda: str(agent.id) in singapore.connected_agents(), what="hello")
    stale = b"\x00" * wire.NONCE_BYTES

    def replay():
        try:
            while (message := link.receive(timeout=5)) is not None:
                link.send({"type": "answer", "nonce": stale.hex(), "signature": wire.sign_nonce(key, stale),
                           "gpu_evidence": wire.unsupported()})
        except (ConnectionError, OSError):
            pass

    threading.Thread(target=replay, daemon=True).start()
    [outcome] = cycle([singapore], django_capture_on_commit_callbacks)
    link.close()
    assert outcome.report is None
    assert outcome.refused["stale_nonce"] == ROUNDS and outcome.refused["timeout"] == ROUNDS
    assert Measurement.objects.count() == 0


def test_a_gpu_with_confidential_computing_answers_with_its_report_and_is_kept_as_synthetic(
        enrolled_agent, landmarks, tmp_path, make_netns, processes, running, relays,
        django_capture_on_commit_callbacks):
    agent, key = enrolled_agent
    services_ = place_agent(agent=agent, key=key, tmp_path=tmp_path, namespace=make_netns(), processes=processes,
                            running=running, relays=relays, one_way_ms={"SIN": 0.3},
                            gpu=("--fake-nvml", "hgx-h200"))
    cycle(services_, django_capture_on_commit_callbacks)
    measurement = Measurement.objects.get()
    assert measurement.gpu_attestation == Measurement.GpuAttestation.SYNTHETIC
    assert [r["gpu_evidence"]["gpu_index"] for r in measurement.rounds] == list(range(ROUNDS))
    assert all(r["gpu_evidence"]["report_b64"] for r in measurement.rounds)
