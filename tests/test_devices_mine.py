"""GET /api/devices/mine: a person's own phones, what the server received from each and the
sequence numbers that never arrived (the phone app shows it after its storage was cleared)."""

from __future__ import annotations

from .support.phone import Phone


def test_my_devices_show_what_arrived_and_the_gaps_and_nobody_elses(as_role, demo):
    patroller = as_role("patroller")
    phone = Phone(patroller, demo.id)
    ms = [phone.visit(f"F0{n}") for n in range(1, 6)]
    phone.push_ok([ms[0], ms[1], ms[4]])  # records 3 and 4 never left the phone
    other = Phone(as_role("supervisor"), demo.id)
    other.push_ok([other.visit("F06")])

    r = patroller.get("/api/devices/mine")
    assert r.status_code == 200
    assert [(d["id"], d["max_seq"], d["seq_gaps"], d["username"]) for d in r.get_json()] == [(phone.device_id, 5, [[3, 4]], "patroller")]


def test_a_person_without_a_phone_that_sent_gets_an_empty_list_and_anonymous_401(as_role, app):
    assert as_role("manager").get("/api/devices/mine").get_json() == []
    assert app.test_client().get("/api/devices/mine").status_code == 401
