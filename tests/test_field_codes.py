"""Field problems an ordinary typo causes reach the desk with a stable code, so a Chinese reader
reads them in Chinese (details.field_errors; strings.json `err_<code>`), at the field the client
sent. tests/conftest.py checks the same for every field problem any test provokes.
"""

from __future__ import annotations

from sqlalchemy import select

from server import choices, i18n
from server.extensions import db
from server.models import Task

from .conftest import _uncoded
from .support.api import error_of
from .support.tasks import finding


def problems(r, field: str) -> list[dict]:
    assert r.status_code == 422, r.get_json()
    return error_of(r)["details"]["field_errors"][field]


def zh(entry: dict) -> str:
    """The Chinese sentence the desk shows for one field problem (i18n.js fieldReason)."""
    text = i18n.table()[f"err_{entry['code']}"][0]
    for k, v in entry["params"].items():
        text = text.replace(f"{{{k}}}", v)
    return text


# --- the holds form (archive screens) ---------------------------------------------------------


def test_a_hold_with_month_13_says_how_a_month_is_written(demo, as_role):
    r = as_role("archivist").post(f"/api/archive/sites/{demo.id}/holds", json={"month": "2026-13", "reason": "审计"})
    [entry] = problems(r, "month")
    assert entry["code"] == "field_month"
    assert entry["params"] == {"min": "2000", "max": "2999"}
    assert zh(entry) == "请按 YYYY-MM 填写月份（年份 2000–2999），例如 2026-10。"


def test_a_hold_on_another_sites_task_says_it_is_not_at_this_site(demo, other_site, as_role):
    _, task = finding(other_site, "OTF1", reporter="other-patroller")
    arch = as_role("archivist")
    [entry] = problems(arch.post(f"/api/archive/sites/{demo.id}/holds", json={"task_id": task.id, "reason": "审计"}), "task_id")
    assert (entry["code"], zh(entry)) == ("field_not_at_site", "不属于本项目。")
    r = arch.post(f"/api/archive/sites/{demo.id}/holds", json={"task_id": task.id, "month": "2026-01", "reason": "审计"})
    assert problems(r, "task_id")[0]["code"] == "field_month_or_task"


def test_a_required_text_left_empty_or_blank_says_required_not_a_length(demo, as_role):
    arch = as_role("archivist")
    for reason in ("", "   "):
        [entry] = problems(arch.post(f"/api/archive/sites/{demo.id}/holds", json={"reason": reason}), "reason")
        assert (entry["code"], zh(entry)) == ("field_required", "请填写此项。"), reason
    # Too long is still a length.
    [entry] = problems(arch.post(f"/api/archive/sites/{demo.id}/holds", json={"reason": "x" * 2001}), "reason")
    assert entry["code"] == "field_length_between"


def test_a_list_too_long_counts_entries_not_characters(demo, as_role):
    _, task = finding(demo)
    r = as_role("supervisor").post(f"/api/tasks/{task.id}/comments", json={"body": "看一下", "photo_ids": ["x"] * 21})
    [entry] = problems(r, "photo_ids")
    assert (entry["code"], entry["params"]) == ("field_too_many", {"max": "20"})
    assert zh(entry) == "最多 20 项。"


# --- a plan's schedule and the date ranges -----------------------------------------------------


def _plan(demo, **schedule):
    from .support.tasks import checkpoint

    return {"name_zh": "夜间巡查", "schedule": {"days": [0], "windows": [["09:00", "11:00"]], **schedule},
            "checkpoint_ids": [checkpoint(demo).id]}


def test_a_schedule_with_a_bad_weekday_or_overlapping_windows_says_so_in_chinese(demo, as_role):
    manager = as_role("manager")
    [entry] = problems(manager.post(f"/api/sites/{demo.id}/plans", json=_plan(demo, days=[0, 7])), "schedule")
    assert (entry["code"], zh(entry)) == ("field_weekday", "星期须为 0（周一）到 6（周日）。")
    r = manager.post(f"/api/sites/{demo.id}/plans", json=_plan(demo, windows=[["09:00", "11:00"], ["10:30", "12:00"]]))
    [entry] = problems(r, "schedule")
    assert zh(entry) == "时段 09:00-11:00 与 10:30-12:00 重叠。"
    r = manager.post(f"/api/sites/{demo.id}/plans", json=_plan(demo, days=[0, 0], windows=[["9:00", "11:00"]]))
    assert [e["code"] for e in problems(r, "schedule")] == ["field_duplicate", "field_time"]


def test_a_date_range_says_which_day_is_wrong_and_why(demo, as_role):
    sup = as_role("supervisor")
    url = f"/api/sites/{demo.id}/coverage"
    [entry] = problems(sup.get(f"{url}?from=2026-13-01&to=2026-12-01"), "from")
    assert entry["code"] == "field_day"
    assert problems(sup.get(f"{url}?from=2026-03-02&to=2026-03-01"), "to")[0]["code"] == "field_day_order"
    [entry] = problems(sup.get(f"{url}?from=2020-01-01&to=2026-03-01"), "to")
    assert entry["code"] == "field_days_at_most" and entry["params"]["max"].isdigit()


# --- cancelling a task: the reason is where the client sent it ----------------------------------


def test_cancelling_without_a_reason_names_the_reason_field_sent(demo, as_role):
    _, task = finding(demo)
    sup = as_role("supervisor")
    for reason in ("", "   "):
        r = sup.post(f"/api/tasks/{task.id}/cancel", json={"reason": reason})
        error = error_of(r)
        assert (r.status_code, error["code"]) == (422, "cancel_reason_required"), reason
        assert list(error["details"]["field_errors"]) == ["reason"]
        assert error["details"]["field_errors"]["reason"][0]["code"] == "cancel_reason_required"
    db.session.expire_all()
    assert db.session.execute(select(Task.state).where(Task.id == task.id)).scalar_one() == choices.TASK_OPEN
    assert sup.post(f"/api/tasks/{task.id}/cancel", json={"reason": "重复报告"}).status_code == 200
    # The generic transition still names its own field, `note`.
    _, other = finding(demo, "F02")
    r = sup.post(f"/api/tasks/{other.id}/transition", json={"to": "cancelled", "note": " "})
    assert list(error_of(r)["details"]["field_errors"]) == ["note"]


def test_an_extension_with_an_empty_reason_is_refused_by_its_own_rule(demo, as_role):
    from datetime import timedelta

    from server import tasks

    from .support.ids import iso
    from .support.tasks import user

    _, task = finding(demo)
    tasks.assign(task, actor=user("supervisor"), assignee_id=user("patroller").id)
    db.session.commit()
    r = as_role("patroller").post(f"/api/tasks/{task.id}/extensions",
                                  json={"requested_due_at": iso(task.due_at + timedelta(days=3)), "reason": ""})
    assert error_of(r)["code"] == "extension_reason_required"
    assert problems(r, "reason")[0]["code"] == "extension_reason_required"


# --- the check every test makes ----------------------------------------------------------------


def test_the_suite_wide_check_finds_a_problem_without_a_code_or_a_sentence():
    described = {"month": [{"code": None, "message": "YYYY-MM", "params": {}}],
                 "shapes": {"0": [{"code": "field_no_such_code", "message": "x", "params": {}}]},
                 "reason": [{"code": "field_required", "message": "required", "params": {}}]}
    assert _uncoded(described) == ["month: 'YYYY-MM' (code None)", "shapes.0: 'x' (code field_no_such_code)"]
