"""Evaluation after reports, in batches and proportional to change.

Ingest marks a host (``Host.needs_evaluation``, the durable outbox) in the report's transaction
and asks for a batch on commit (``marks.evaluation_request``).  One batch task takes every
marked host up to CHIPWATCH_EVALUATION_BATCH_SIZE (``services.hosts_evaluate``): it classifies
only the GPUs whose reported identity it has not classified yet, re-scores each cluster a
changed host is (or was) in once, runs the telemetry checks over all the batch's hosts and the
identity checks over the changed ones, and clears each mark only if no report set it again
meanwhile (compare-and-clear), so no evaluation is lost and running it twice changes nothing.
"""
