"""A stored report that carries attestation evidence is verified after its transaction commits.

Observation rows are append-only and created once by ingest, so `created` is the only case; the task is
idempotent (one verification per report)."""
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from inventory.models import Observation


@receiver(post_save, sender=Observation, dispatch_uid="attestation_evidence_on_commit")
def _evidence_stored(sender, instance: Observation, created: bool, **kwargs) -> None:
    if created and instance.payload.get("attestation"):
        observation_id = instance.id
        transaction.on_commit(lambda: _enqueue(observation_id))


def _enqueue(observation_id: int) -> None:
    from .tasks import verify_observation_attestation

    verify_observation_attestation.delay(observation_id)
