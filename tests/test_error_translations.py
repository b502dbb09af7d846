"""Every refusal the server can send has a Chinese and an English sentence in strings.json.

The codes are read from the server's source (tests/support/error_codes.py), so a new code
that ships without its `err_<code>` row fails here; so does a field-problem code of
server/field_errors.py. Also: the error shape's `details.field_errors` beside `fields`.
"""

from __future__ import annotations

import re

import pytest
from marshmallow import Schema, ValidationError, fields, validate

from server import field_errors, i18n
from server.problems import Conflict

from .support.error_codes import collect

# Calls that pass on a code they were given (a problem re-raised as the API's error; a problem
# refusing a sync mutation is passed on by sync's Rejection.of): nothing new to translate.
PASSED_ON = {
    "server/errors.py": {"CODES.get(status)", "exc.code"},
    "server/problems.py": {"field_code or code"},  # Invalid.field: its field's code, collected at each call
}


def translated(key: str) -> bool:
    row = i18n.table().get(key)
    return bool(row) and len(row) == 2 and all(isinstance(x, str) and x.strip() for x in row)


def test_the_codes_are_read_from_the_source():
    found = collect()
    # A few codes seen in the reviewer's screenshots, from each kind of call.
    for code in ("bad_credentials", "due_too_far", "cancel_reason_required", "transition_not_allowed", "validation_error",
                 "unknown_task", "month_sealed", "too_many_requests"):
        assert code in found.codes, code
    assert len(found.codes) > 90
    unexplained = [u for u in found.unresolved
                   if u.split(":")[0] not in PASSED_ON or u.split(": ", 1)[1] not in PASSED_ON[u.split(":")[0]]]
    assert unexplained == [], "a code the test cannot read: give it as a literal or a module constant"


def test_every_error_code_the_server_can_send_is_translated():
    missing = [f"err_{code} (raised at {', '.join(where[:2])})" for code, where in sorted(collect().codes.items()) if not translated(f"err_{code}")]
    assert missing == []


def test_every_field_problem_code_is_translated():
    assert [c for c in field_errors.CODES if not translated(f"err_{c}")] == []


def test_translations_name_only_the_parameters_the_server_sends():
    # {state}, {to}, {min}… are filled from the error's details; an unknown name would show raw.
    allowed = {"state", "to", "min", "max", "equal", "choices", "type", "limit", "minutes", "ids", "first", "second"}
    bad = {k: v for k, v in i18n.table().items() if k.startswith("err_")
           for name in re.findall(r"\{(\w+)\}", "".join(v)) if name not in allowed}
    assert bad == {}


def test_a_sentence_with_parameters_has_one_without_them():
    # A refusal kept without its details (the phone's outbox keeps code and message) still reads
    # in the user's language: err_<code>_any. Field-problem codes always come with their params.
    table = i18n.table()
    lacking = [k for k, v in table.items() if k.startswith("err_") and not k.startswith(("err_field_",)) and not k.endswith("_to")
               and re.search(r"\{\w+\}", "".join(v)) and f"{k}_any" not in table]
    assert lacking == []


class Sample(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    count = fields.Integer(validate=validate.Range(min=0, max=9))
    kind = fields.String(validate=validate.OneOf(["a", "b"]))
    when = fields.DateTime()


@pytest.mark.parametrize(
    ("data", "field", "code", "params"),
    [
        ({}, "title", "field_required", {}),
        ({"title": ""}, "title", "field_length_between", {"min": "1", "max": "120"}),
        ({"title": "x", "count": 12}, "count", "field_between", {"min": "0", "max": "9"}),
        ({"title": "x", "count": "many"}, "count", "field_invalid", {"type": "integer"}),
        ({"title": "x", "kind": "c"}, "kind", "field_one_of", {"choices": "a, b"}),
        ({"title": "x", "when": "soon"}, "when", "field_invalid", {"type": "datetime"}),
        ({"title": None}, "title", "field_null", {}),
        ({"title": "x", "extra": 1}, "extra", "field_unknown", {}),
    ],
)
def test_marshmallow_messages_get_a_code_and_their_parameters(data, field, code, params):
    with pytest.raises(ValidationError) as exc:
        Sample().load(data)
    described = field_errors.annotate(exc.value.messages)[field][0]
    assert (described["code"], described["params"]) == (code, params)
    assert described["message"] == exc.value.messages[field][0]


def test_the_apis_own_text_rule_has_a_code_too():
    # server/api/common.py Str refuses a NUL character; a sync payload's text check says the same.
    from server.api.common import Str

    assert field_errors.describe(Str.default_error_messages["nul"])["code"] == "field_nul"


def test_an_unknown_message_has_no_code():
    assert field_errors.describe("something else") == {"code": None, "message": "something else", "params": {}}


def test_a_domain_rule_on_a_field_gives_the_field_its_code_and_a_state_its_vocabulary(demo, as_role):
    from datetime import timedelta

    from server import tasks
    from server.extensions import db

    from .support.api import error_of
    from .support.ids import iso
    from .support.tasks import finding, user

    _, task = finding(demo)
    tasks.assign(task, actor=user("supervisor"), assignee_id=user("patroller").id)
    db.session.commit()
    r = as_role("patroller").post(f"/api/tasks/{task.id}/extensions",
                                  json={"requested_due_at": iso(task.due_at + timedelta(days=400)), "reason": "parts"})
    assert r.status_code == 422
    error = error_of(r)
    assert error["code"] == "due_too_far"
    assert error["details"]["field_errors"]["requested_due_at"] == [{"code": "due_too_far", "message": "at most a year later", "params": {}}]
    assert error["details"]["fields"] == {"requested_due_at": ["at most a year later"]}

    # A move the state forbids names both states and their vocabulary, for the phone's words.
    with pytest.raises(Conflict) as exc:
        tasks.check_move(task, user("supervisor"), "verified")
    assert exc.value.code == "transition_not_allowed"
    assert exc.value.details == {"state": "assigned", "to": "verified", "vocabulary": "task_states"}



@pytest.mark.parametrize(("kind", "code", "name"), [
    ("extension", "extension_reason_required", "reason"),
    ("cancel", "cancel_reason_required", "note"),
    ("invalid", "invalid_reason_required", "reason"),
    ("return", "return_reason_required", "note"),
])
def test_each_missing_reason_says_which_reason_is_needed_in_both_languages(demo, as_role, kind, code, name):
    # One generic "give the reason" told nobody whether the manager, the resident or the handler
    # would read it: each rule has its own code, as the error's code and at its field.
    from datetime import timedelta

    from server import complaints, tasks
    from server.extensions import db

    from .support.api import error_of
    from .support.complaints import take
    from .support.ids import iso
    from .support.tasks import finding, user

    if kind in ("extension", "cancel"):
        _, task = finding(demo)
        tasks.assign(task, actor=user("supervisor"), assignee_id=user("patroller").id)
        db.session.commit()
        if kind == "extension":
            r = as_role("patroller").post(f"/api/tasks/{task.id}/extensions",
                                          json={"requested_due_at": iso(task.due_at + timedelta(days=3)), "reason": "  "})
        else:
            r = as_role("supervisor").post(f"/api/tasks/{task.id}/transition", json={"to": "cancelled", "note": " "})
    else:
        c = take(demo)
        if kind == "invalid":
            r = as_role("receptionist").post(f"/api/complaints/{c.id}/judge", json={"valid": False})
        else:
            complaints.judge(c, actor=user("receptionist"), valid=True)
            complaints.assign(c, actor=user("supervisor"), handler_id=user("patroller").id)
            complaints.start(c, actor=user("patroller"))
            complaints.propose(c, actor=user("patroller"), cause="c", solution="s")
            db.session.commit()
            r = as_role("supervisor").post(f"/api/complaints/{c.id}/approve", json={"approve": False})
    error = error_of(r)
    assert (r.status_code, error["code"]) == (422, code)
    [entry] = error["details"]["field_errors"][name]
    assert entry == {"code": code, "message": error["details"]["fields"][name][0], "params": {}}
    assert translated(f"err_{code}")


def test_the_four_reasons_read_differently():
    table = i18n.table()
    rows = [table[f"err_{k}_reason_required"] for k in ("extension", "cancel", "invalid", "return")]
    assert len({zh for zh, _ in rows}) == len({en for _, en in rows}) == 4
