"""Signals inventory sends for other apps to act on, so ingest never imports them.

`report_stored` is sent inside the report's transaction once its Observation row exists (ingest writes that row
with plain SQL, so Django's post_save never fires for it).  Receivers defer side effects with
`transaction.on_commit`."""
from django.dispatch import Signal

report_stored = Signal()  # kwargs: observation_id (int), report (dict, the verified payload)
