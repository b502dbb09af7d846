"""The API's JSON answers (server/jsonio.py): orjson writes them, with what Flask's own provider writes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

from flask.json.provider import DefaultJSONProvider

from server.jsonio import OrjsonProvider


@dataclass
class Point:
    x: int
    label: str


SAMPLE = {
    "zeta": 1, "alpha": {"b": [1, 2.5, None, True], "a": "巡逻 <script>&'\"\n\t"}, "3": "digits",
    "when": datetime(2026, 12, 5, 8, 30, tzinfo=timezone.utc), "day": date(2026, 12, 5),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "money": Decimal("12.50"), "point": Point(1, "一"),
}


def _default(app):
    return DefaultJSONProvider(app)


def test_an_answer_reads_back_as_what_flasks_provider_writes(app):
    assert isinstance(app.json, OrjsonProvider)
    with app.test_request_context():
        ours, theirs = app.json.response(SAMPLE), _default(app).response(SAMPLE)
    assert ours.mimetype == "application/json" and ours.get_data().endswith(b"\n")
    assert json.loads(ours.get_data()) == json.loads(theirs.get_data())
    text = ours.get_data(as_text=True)
    # Keys sorted (stable answers), HTTP dates as Flask writes them, typed text as UTF-8.
    assert text.index('"3"') < text.index('"alpha"') < text.index('"day"') < text.index('"zeta"')
    assert '"Sat, 05 Dec 2026 08:30:00 GMT"' in text and "巡逻" in text
    assert app.json.loads(app.json.dumps(SAMPLE)) == json.loads(_default(app).dumps(SAMPLE))


def test_what_orjson_refuses_is_written_by_the_json_module_not_refused(app):
    for awkward in ({"n": 2**70}, {"s": "a\ud800b"}):
        with app.test_request_context():
            ours, theirs = app.json.response(awkward), _default(app).response(awkward)
        assert ours.status_code == 200
        assert ours.get_data() == theirs.get_data()
        assert app.json.dumps(awkward) == _default(app).dumps(awkward)


def test_a_pull_carries_the_sites_chinese_name_as_utf8(as_role, demo):
    resp = as_role("patroller").get("/api/sync/pull?cursor=0&limit=500")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert demo.name_zh in body and "\\u" not in body.split(demo.name_zh)[0][-40:]
    site = next(ch["data"] for ch in json.loads(body)["changes"] if ch["entity"] == "site")
    assert site["name_zh"] == demo.name_zh
