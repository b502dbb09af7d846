"""The phone's "overdue" (vocab.isOverdue, for tasks it holds offline) says what the server's rule says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server import choices, tasks
from server.models import Checkpoint, Task, utcnow

from .app_driver import login
from .conftest import api_session, new_context

pytestmark = pytest.mark.browser

# The JS twin, run in the app's own page on tasks as the API gives them, at a given instant.
JS_OVERDUE = """async ([rows, now]) => {
  const vocab = await import('/static/pwa/vocab.js');
  return rows.map((t) => vocab.isOverdue(t, now ? new Date(now) : new Date()));
}"""

# (checkpoint, state, due relative to now): both sides of the due time, open and closed.
CASES = [
    ("F01", choices.TASK_OPEN, timedelta(hours=-1)),
    ("F02", choices.TASK_OPEN, timedelta(hours=1)),
    ("F03", choices.TASK_IN_PROGRESS, timedelta(days=-3)),
    ("F04", choices.TASK_DONE, timedelta(minutes=-5)),
    ("F05", choices.TASK_DONE, timedelta(days=2)),
    ("F06", choices.TASK_VERIFIED, timedelta(days=-3)),
    ("F07", choices.TASK_CANCELLED, timedelta(hours=-1)),
]


def iso(dt) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_the_phone_and_the_server_call_the_same_tasks_overdue(live_server, launch, query):
    patroller = api_session(live_server, "patroller")
    ids = []
    for code, _state, _due in CASES:
        cp = query(lambda s, code=code: s.execute(select(Checkpoint.id).where(Checkpoint.short_code == code)).scalar_one())
        r = patroller.post(f"{live_server.url}/api/findings/", json={"checkpoint_id": cp, "item_id": "floor.clean", "description": f"积水 {code}"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["task_id"])
    now = utcnow().replace(microsecond=0)  # whole seconds: the API and JS read the same instant

    def place(s):
        for task_id, (_code, state, due) in zip(ids, CASES):
            s.execute(update(Task).where(Task.id == task_id).values(state=state, due_at=now + due))
        s.commit()

    query(place)

    supervisor = api_session(live_server, "supervisor")
    r = supervisor.get(f"{live_server.url}/api/tasks/", params={"state": list(choices.TASK_STATES), "per_page": 100})
    assert r.status_code == 200, r.text
    listed = {t["id"]: t for t in r.json()["items"]}
    rows = [listed[i] for i in ids]
    server_flags = [t["overdue"] for t in rows]
    assert server_flags == [True, False, True, True, False, False, False]

    page = new_context(launch(), live_server).new_page()
    page.goto("/")
    login(page, "supervisor")
    assert page.evaluate(JS_OVERDUE, [rows, None]) == server_flags

    # At the very edge, for every task: a second before its due time, at it, and a second after.
    loaded = query(lambda s: {t.id: (t.state, t.due_at) for t in s.scalars(select(Task).where(Task.id.in_(ids)))})
    edges = []
    for t in rows:
        state, due_at = loaded[t["id"]]
        for shift in (-1, 0, 1):
            at = due_at + timedelta(seconds=shift)
            edges.append((t, at, tasks.is_overdue(Task(state=state, due_at=due_at), now=at)))
    js = [page.evaluate(JS_OVERDUE, [[t], iso(at)])[0] for t, at, _ in edges]
    assert js == [flag for _t, _at, flag in edges]
    # Open tasks turn overdue one second after their due time, never at it; closed ones never do.
    assert [flag for t, _at, flag in edges if t["id"] == ids[1]] == [False, False, True]
    assert not any(flag for t, _at, flag in edges if t["id"] in (ids[5], ids[6]))
    page.context.close()
