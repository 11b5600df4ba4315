"""One agent's reports are accepted one at a time: the agent row is locked (FOR UPDATE) before the
sequence check, so two reports racing with the same sequence cannot both pass it (a replayed or
rewound report would otherwise slip in beside the genuine one).

On PostgreSQL, because SQLite has no row locks (it serialises writers on the whole database).
The race is made certain, not hoped for: a third connection holds the agent's lock until both
reports are seen waiting on it in pg_stat_activity, then lets them go together."""
import threading
import time
import uuid

import pytest
from django.db import connection, connections, transaction
from django.test import Client

from inventory.models import Agent, Observation
from inventory.services import report_rows
from tests.reports import lean, minimal_report, signed_post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        return cursor.fetchone()[0]


def _in_thread(target) -> tuple[threading.Thread, list]:
    result = []

    def run():
        try:
            result.append(target())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_two_reports_with_one_sequence_racing_store_exactly_one(enrolled_agent, postgres_url):
    agent, key = enrolled_agent
    assert signed_post(Client(), minimal_report(str(agent.id), sequence=0), key).status_code == 201
    rivals = [lean(minimal_report(str(agent.id), sequence=1)) for _ in range(2)]  # two report_ids, one sequence
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock():
        with transaction.atomic():
            assert report_rows.agent_lock(agent.id).pk == agent.pk
            locked.set()
            release.wait(30)
        return "released"

    holder, _ = _in_thread(hold_the_lock)
    assert locked.wait(10)
    posts = [_in_thread(lambda report=report: signed_post(Client(), report, key).status_code) for report in rivals]
    deadline = time.monotonic() + 20
    while _waiting_on_locks() < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    waiting = _waiting_on_locks()
    release.set()
    for thread, _ in [(holder, None), *posts]:
        thread.join(30)

    assert waiting == 2, "both reports must wait on the agent's row lock"
    assert sorted(result[0] for _, result in posts) == [201, 409]
    assert sorted(Observation.objects.filter(agent=agent).values_list("sequence", flat=True)) == [0, 1]


def test_the_lock_reads_the_agent_and_its_host_as_the_orm_does(enrolled_agent):
    """agent_lock builds the rows itself (one statement compiled once): every field must read back
    as the ORM reads it, on SQLite (text-stored UUIDs and datetimes) as on PostgreSQL."""
    agent, _ = enrolled_agent
    with transaction.atomic():
        locked = report_rows.agent_lock(agent.id)
    expected = Agent.objects.select_related("host").get(pk=agent.pk)
    for field in Agent._meta.concrete_fields:
        assert getattr(locked, field.attname) == getattr(expected, field.attname), field.name
    for field in type(expected.host)._meta.concrete_fields:
        assert getattr(locked.host, field.attname) == getattr(expected.host, field.attname), field.name
    assert report_rows.agent_lock(uuid.uuid4()) is None
