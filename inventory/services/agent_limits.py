"""What one agent key may send: how far its sequence may jump, and its report budgets.

Both are decided on the agent row ingest has locked, so N web workers count as one and no
extra query is spent.  Only accepted reports count; a refusal is an IngestRejection (forgery
evidence, raised by telemetry_integrity).
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings

from ..models import Agent
from .errors import IngestError

BUDGET_FIELDS = ("budget_minute_start", "budget_minute_reports", "budget_day", "budget_day_bytes")


def sequence_check(*, agent: Agent, sequence: int, now: datetime) -> None:
    """Refuse a sequence at or before the last accepted one (a replay), or one further ahead than
    the agent could have produced since (a stolen key pushing it to 2^53-1 would lock the real
    agent out for good).

    The agent numbers every report it builds, sent or dropped from a full spool, at most
    CHIPWATCH_AGENT_REPORTS_PER_MINUTE a minute; the jump allowed is that rate times the minutes
    since the last accepted report, plus CHIPWATCH_AGENT_SEQUENCE_SLACK.  A stolen key can
    therefore hold the real agent back by that much, not forever, and each refusal is evidence.
    The first report of a key may start anywhere (an agent keeps its counter across re-enrollment).
    """
    if sequence <= agent.last_sequence:
        raise IngestError(409, "sequence_regression",
                          f"sequence {sequence} is not after the last accepted {agent.last_sequence}", record=True)
    if agent.last_seen is None:
        return
    minutes = max((now - agent.last_seen).total_seconds(), 0) / 60
    allowed = settings.CHIPWATCH_AGENT_SEQUENCE_SLACK + math.ceil(minutes * settings.CHIPWATCH_AGENT_REPORTS_PER_MINUTE)
    if sequence - agent.last_sequence > allowed:
        raise IngestError(409, "sequence_jump",
                          f"sequence {sequence} is {sequence - agent.last_sequence} after the last accepted "
                          f"{agent.last_sequence}; at most {allowed} is possible since it was received", record=True)


def budget_spend(*, agent: Agent, size: int, now: datetime) -> None:
    """Count one report of ``size`` bytes against the agent's budgets, or refuse it with 429 and
    a Retry-After: CHIPWATCH_AGENT_REPORTS_PER_MINUTE (a fixed window from the first report of
    the minute) and CHIPWATCH_AGENT_BYTES_PER_DAY (per UTC day).  The caller saves BUDGET_FIELDS."""
    if agent.budget_minute_start is None or now - agent.budget_minute_start >= timedelta(minutes=1):
        agent.budget_minute_start, agent.budget_minute_reports = now, 0
    if agent.budget_day != now.date():
        agent.budget_day, agent.budget_day_bytes = now.date(), 0
    if agent.budget_minute_reports >= settings.CHIPWATCH_AGENT_REPORTS_PER_MINUTE:
        wait = 60 - (now - agent.budget_minute_start).total_seconds()
        raise IngestError(429, "budget_exceeded",
                          f"over {settings.CHIPWATCH_AGENT_REPORTS_PER_MINUTE} reports a minute for this agent",
                          record=True, retry_after=max(math.ceil(wait), 1))
    if agent.budget_day_bytes + size > settings.CHIPWATCH_AGENT_BYTES_PER_DAY:
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
        raise IngestError(429, "budget_exceeded",
                          f"over {settings.CHIPWATCH_AGENT_BYTES_PER_DAY} bytes a day for this agent",
                          record=True, retry_after=max(math.ceil((midnight - now).total_seconds()), 1))
    agent.budget_minute_reports += 1
    agent.budget_day_bytes += size
