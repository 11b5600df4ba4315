"""The refusal every agent-facing service raises, and the views turn into an HTTP answer."""


class IngestError(Exception):
    """A refused report or enrollment: HTTP status, a stable code, what is wrong, and for a 429
    the seconds to wait (Retry-After)."""

    def __init__(self, status: int, code: str, detail, *, record: bool = False, retry_after: int | None = None):
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail, self.record = status, code, detail, record
        self.retry_after = retry_after
