"""Against a server without POST /api/v1/reports/batch (404, the stand-in's answer) the agent sends
its spool one by one, and does not ask for the batch endpoint again.  The batch itself against the
real server: tests/integration/test_agent_batch.py."""
import threading

NEVER = threading.Event()


def test_an_older_server_gets_the_spool_one_by_one_and_is_not_asked_again(make_agent, server):
    agent = make_agent()
    for _ in range(3):
        agent.collect_and_spool()
    agent.deliver(NEVER)
    assert [r["path"] for r in server.requests] == ["/api/v1/reports/batch"] + ["/api/v1/reports"] * 3
    assert [r["sequence"] for r in server.reports()] == [1, 2, 3]
    assert "identity" in server.reports()[0] and "identity" not in server.reports()[1]
    assert agent.spool.entries() == []
    for _ in range(2):
        agent.collect_and_spool()
    agent.deliver(NEVER)
    assert [r["path"] for r in server.requests[4:]] == ["/api/v1/reports"] * 2
