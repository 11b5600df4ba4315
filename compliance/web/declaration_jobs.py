"""An uploaded declarations file between the upload, its check (the dry run) and its commit, and the progress
of whichever is running, for the page that polls it.

The import holds one database transaction from its first row to its last (all or nothing), so its progress
cannot be read from the database while it runs: it is written where both the web process and the worker
reach. With a broker that is the broker's Redis; without one, tasks run in-process (embedded mode,
`make run`) and the process's own memory is shared by the request running the task and the requests
polling it. A job expires after JOB_SECONDS; its file is never written to disk.
"""
from __future__ import annotations

import hashlib
import secrets
import time

from django.core.cache import cache as process_cache
from django.core.cache.backends.redis import RedisCache

JOB_SECONDS = 2 * 3600
_PREFIX = "chipwatch:declarations:"


def _store():
    from config.celery import app

    if app.conf.task_always_eager:
        return process_cache
    return RedisCache(app.conf.broker_url, {"TIMEOUT": JOB_SECONDS})


def job_create(*, user_id: int, file_name: str, fmt: str, data: bytes) -> str:
    job_id = secrets.token_urlsafe(12)
    _store().set(f"{_PREFIX}{job_id}", {
        "id": job_id, "user_id": user_id, "file_name": file_name, "fmt": fmt, "data": data,
        "sha256": hashlib.sha256(data).hexdigest(), "created": time.time(), "phase": "check", "state": "uploaded",
        "report": None}, timeout=JOB_SECONDS)
    job_progress_set(job_id=job_id, done=0, total=0)
    return job_id


def job_get(*, job_id: str, user_id: int) -> dict | None:
    """The job, only for the user who uploaded it (anyone else: None, as if it did not exist)."""
    job = _store().get(f"{_PREFIX}{job_id}")
    return job if job is not None and job["user_id"] == user_id else None


def job_update(*, job: dict, **changes) -> dict:
    job = {**job, **changes}
    _store().set(f"{_PREFIX}{job['id']}", job, timeout=JOB_SECONDS)
    return job


def job_progress_set(*, job_id: str, done: int, total: int) -> None:
    _store().set(f"{_PREFIX}{job_id}:progress", {"done": done, "total": total}, timeout=JOB_SECONDS)


def job_progress(*, job_id: str) -> dict:
    return _store().get(f"{_PREFIX}{job_id}:progress") or {"done": 0, "total": 0}


def job_run(*, job_id: str, user_id: int, commit: bool) -> None:
    """Check (dry run) or commit the job's file as its uploader, within the uploader's triage scope."""
    from django.contrib.auth import get_user_model

    from compliance.access.scope import Capability, user_scope
    from compliance.audit.context import audit_context
    from inventory.declaration_sheets import SheetFormatError
    from inventory.services.declarations_import import declarations_import

    job = job_get(job_id=job_id, user_id=user_id)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if job is None or user is None:
        return
    job = job_update(job=job, phase="commit" if commit else "check", state="running")
    job_progress_set(job_id=job_id, done=0, total=0)
    try:
        with audit_context(request_id=f"declarations-import:{job_id}", user=user):
            report = declarations_import(
                data=job["data"], fmt=job["fmt"], source_name=job["file_name"],
                scope=user_scope(user, Capability.TRIAGE), dry_run=not commit,
                progress=lambda done, total: job_progress_set(job_id=job_id, done=done, total=total))
    except SheetFormatError as exc:
        job_update(job=job, state="failed", problem=str(exc))
        return
    job_update(job=job, state="done", report=report.to_dict())
