"""A stored report that carries attestation evidence is verified after its transaction commits.

Ingest announces every stored report once (inventory.signals.report_stored); the task is idempotent (one
verification per report), and the sweeper covers a lost enqueue."""
from django.db import transaction
from django.dispatch import receiver

from inventory.models import Observation
from inventory.signals import report_stored


@receiver(report_stored, sender=Observation, dispatch_uid="attestation_evidence_on_commit")
def _evidence_stored(sender, observation_id: int, report: dict, **kwargs) -> None:
    if report.get("attestation"):
        transaction.on_commit(lambda: _enqueue(observation_id))


def _enqueue(observation_id: int) -> None:
    from .tasks import verify_observation_attestation

    verify_observation_attestation.delay(observation_id)
