"""Thin Celery wrappers for the officer UI's long-running work."""
from celery import shared_task

from .declaration_jobs import job_run


# A large file takes longer than the default limits; the import's transaction makes a killed run write nothing.
@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1860)
def declarations_job_run(job_id: str, user_id: int, commit: bool) -> None:
    job_run(job_id=job_id, user_id=user_id, commit=commit)
