"""The agent loop: collect -> spool -> deliver, with backoff, until told to stop.

Order matters for "no loss": the sequence number is persisted before the report
exists, the report is on disk before any send, and it leaves the disk only after
the server acknowledged it.  A stop request lets the current send finish.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional

from .collector import Collector
from .report import IdentityPolicy, build_report, lean, rfc3339
from .spool import Spool, SpoolError
from .state import AgentState, Config, Paths
from .transport import Answer, Backoff, Sender, Verdict

log = logging.getLogger("chipwatch_agent")

# Reports per batch request, and their spooled bytes: well under the server's defaults
# (CHIPWATCH_BATCH_MAX_REPORTS 100, request bodies up to 2 MiB).
BATCH_MAX_REPORTS = 50
BATCH_MAX_BYTES = 512 * 1024


class Agent:
    def __init__(self, paths: Paths, config: Config, nvml: Any, backend: str, sender: Sender,
                 clock: Callable[[], float] = time.time, backoff: Optional[Backoff] = None):
        self.paths = paths
        self.config = config
        self.backend = backend
        self.sender = sender
        self.clock = clock
        self.collector = Collector(nvml)
        self.policy = IdentityPolicy()
        self.backoff = backoff or Backoff(config.backoff_base_seconds, config.backoff_cap_seconds)
        self.retry_at = 0.0
        self.batches = True  # until the server shows it has no batch endpoint (an older server: 404)
        self.cc_mode = False  # the last collection saw GPUs in confidential-computing mode (they can attest)
        self.spool = Spool(paths.spool, config.spool_max_files, config.spool_max_bytes)
        self.state = AgentState.load(paths.state)
        # Even with a lost state file, never reuse a sequence that is still spooled.
        self.state.next_sequence = max(self.state.next_sequence, self.spool.max_sequence() + 1)

    # -- state ----------------------------------------------------------------

    def _save_state(self) -> None:
        try:
            self.state.save(self.paths.state)
        except OSError as exc:
            log.error("cannot write state file %s: %s", self.paths.state, exc)

    def _error(self, message: str) -> None:
        self.state.last_error, self.state.last_error_at = message, rfc3339(self.clock())

    # -- collect ----------------------------------------------------------------

    def collect_and_spool(self) -> Optional[dict]:
        """One report into the spool; returns it, or None when the spool could not take it."""
        if self.cc_mode and not self.state.attestation_nonce:
            self._ask_for_attestation_nonce()
        nonce = bytes.fromhex(self.state.attestation_nonce) if self.state.attestation_nonce else None
        collection = self.collector.collect(nonce)
        self.cc_mode = _in_cc_mode(collection)
        sequence = self.state.next_sequence
        self.state.next_sequence += 1
        self._save_state()
        report = build_report(
            collection, agent_id=self.config.agent_id, sequence=sequence, backend=self.backend,
            dropped_reports=self.state.dropped_unacknowledged, dropped_total=self.state.dropped_total,
            spool_depth=len(self.spool.entries()),
            collected_at=self.clock(),
        )
        try:
            dropped = self.spool.put(report)
            self.state.spool_error = None
            self.state.attestation_nonce = None
        except SpoolError as exc:
            log.error("%s; report %d dropped", exc, sequence)
            self.state.spool_error = str(exc)
            self._error(str(exc))
            dropped, report = 1, None
        self.state.dropped_total += dropped
        self._save_state()
        return report

    def _ask_for_attestation_nonce(self) -> None:
        """Once per attestation interval, ask the server for a nonce this report's evidence answers."""
        last = self.state.attestation_requested_at
        due = last is None or self.clock() - last >= self.config.attestation_interval_seconds
        if self.state.attestation_nonce or not due:
            return
        self.state.attestation_requested_at = self.clock()
        self.state.attestation_nonce = self.sender.request_attestation_nonce(rfc3339(self.clock()))

    # -- deliver --------------------------------------------------------------

    def deliver(self, stop: threading.Event) -> None:
        """Send spooled reports oldest first until the spool is empty, a send fails or stop is set:
        several per request (POST /api/v1/reports/batch) while more than one is waiting, one by one
        to a server without the batch endpoint."""
        if self.clock() < self.retry_at:
            return
        pending = self.spool.entries()
        while pending and not stop.is_set():
            chunk, pending = self._read_reports(pending)
            answers = self._send_chunk([report for _, report in chunk]) if chunk else []
            for (entry, report), (sent, answer) in zip(chunk, answers):
                if not self._settle(entry, report, sent, answer):
                    self._save_state()
                    return
            pending = [entry for entry, _ in chunk[len(answers):]] + pending  # not attempted: first again
        self._save_state()

    def _read_reports(self, pending: list) -> tuple:
        """The next reports to send together (entry, report) and the entries left; an unreadable
        file is moved aside on the way."""
        limit = BATCH_MAX_REPORTS if self.batches and len(pending) > 1 else 1
        chunk, size, taken = [], 0, 0
        for entry in pending:
            if len(chunk) >= limit or (chunk and size + entry.size > BATCH_MAX_BYTES):
                break
            taken += 1
            try:
                chunk.append((entry, self.spool.read(entry)))
                size += entry.size
            except (OSError, ValueError) as exc:
                log.error("spooled report %s unreadable (%s); moved to rejected/", entry.path.name, exc)
                self.spool.reject(entry)
                self.state.rejected_reports += 1
        return chunk, pending[taken:]

    def _send_chunk(self, reports: list) -> list:
        """(sent, answer) per report, in order; fewer than `reports` when the server stopped early.
        A report goes lean when its identity was acknowledged, or sent in full earlier in the batch
        (the server stores a batch in order; if that one is refused, the lean ones ask again: 428)."""
        full_sent, sent = set(), []
        for report in reports:
            known = self.policy.may_omit(report["identity_sha256"], self.clock())
            sent.append(lean(report) if known or report["identity_sha256"] in full_sent else report)
            full_sent.add(report["identity_sha256"])
        if len(sent) > 1:
            answers = self.sender.send_batch(sent)
            if answers is not None:
                return list(zip(sent, answers))
            log.info("server has no batch endpoint (or refused the batch): sending reports one by one")
            self.batches = False
        return [(sent[0], self.sender.send(sent[0]))]

    def _settle(self, entry, report: dict, sent: dict, answer: Answer) -> bool:
        """Act on one report's answer; False when delivery must stop (back off and retry it)."""
        if answer.verdict is Verdict.IDENTITY_UNKNOWN and sent is not report:
            self.policy.forget()
            sent, answer = report, self.sender.send(report)
        if answer.verdict is Verdict.ACKNOWLEDGED:
            self.policy.acknowledged(sent, self.clock())
            self._acknowledged(entry, report, answer)
            return True
        if answer.verdict is Verdict.REJECTED:
            log.error("server rejected report %d for good (HTTP %d): %s",
                      report["sequence"], answer.status, answer.detail)
            self.spool.reject(entry)
            self.state.rejected_reports += 1
            self._error(f"report {report['sequence']} rejected: HTTP {answer.status} {answer.detail}")
            return True
        self._failed(answer)
        return False

    def _acknowledged(self, entry, report: dict, answer: Answer) -> None:
        self.spool.remove(entry)
        self.backoff.reset()
        self.retry_at = 0.0
        self.state.dropped_acknowledged = max(self.state.dropped_acknowledged, report["agent"].get("dropped_total", 0))
        self.state.last_success_at = rfc3339(self.clock())
        self.state.unauthorized = False
        if answer.attestation_nonce:
            self.state.attestation_nonce = answer.attestation_nonce

    def _failed(self, answer: Answer) -> None:
        delay = self.backoff.next_delay()
        self.retry_at = self.clock() + delay
        self.state.unauthorized = answer.verdict is Verdict.UNAUTHORIZED
        what = "agent not known to the server (enroll again?)" if self.state.unauthorized else "delivery failed"
        self._error(f"{what}: HTTP {answer.status} {answer.detail}".strip())
        log.warning("%s: HTTP %d %s; retrying in %.1fs", what, answer.status, answer.detail, delay)

    # -- loop -----------------------------------------------------------------

    def run(self, interval_s: float, stop: threading.Event, once: bool = False) -> None:
        next_collect = self.clock()
        try:
            while not stop.is_set():
                if self.clock() >= next_collect:
                    self.collect_and_spool()
                    next_collect = self.clock() + interval_s
                self.deliver(stop)
                if once:
                    break
                wake = next_collect
                if self.retry_at > self.clock() and self.spool.entries():
                    wake = min(wake, self.retry_at)
                stop.wait(max(0.0, wake - self.clock()))
        finally:
            self.collector.close()
            self._save_state()


def _in_cc_mode(collection: dict) -> bool:
    """Whether the GPUs can sign evidence: NVML reports confidential computing on (ccFeature 1)."""
    return any(isinstance(gpu.get("confidential_compute"), dict) and gpu["confidential_compute"].get("cc_feature") == 1
               for gpu in collection["identity"]["gpus"])
