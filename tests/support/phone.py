"""The one `Phone` client: a phone's outbox and pull state, speaking /api/sync as the PWA does."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from server.extensions import db
from server.models import Checkpoint

from .api import ApiClient
from .faults import ConnectionDropped
from .ids import iso, new_id


class Phone:
    """A phone on a clock that may be off: builds mutations with increasing seq and pushes them.

    `mutation()`/`visit()` only build a mutation; `push()` sends a batch and answers the
    response, `push_ok()` the results of a 200. The outbox is for retry tests: `queue()`
    keeps a mutation until `send()` has it answered, `sync()` retries until it is empty,
    `pull_all()` pages the change log as the app does.
    """

    def __init__(self, api: ApiClient, site_id: int, clock_off: timedelta = timedelta(0), device_id: str | None = None):
        self.api = api
        self.site_id = site_id
        self.clock_off = clock_off
        self.device_id = device_id or new_id()
        self.seq = 0
        self.outbox: list[dict] = []
        self.cursor = 0
        self.store: dict[tuple[str, str], dict] = {}
        self._versions: dict[str, dict] = {}

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.clock_off

    # --- building mutations ---------------------------------------------------------

    def mutation(self, kind: str, payload: dict, observed_at: datetime | None = None) -> dict:
        self.seq += 1
        return {"mutation_id": new_id(), "seq": self.seq, "kind": kind, "observed_at": iso(observed_at or self.now()), "payload": payload}

    def version(self, kind: str) -> dict:
        """The site's current checklist version for a checkpoint kind, as the phone downloads it."""
        if kind not in self._versions:
            r = self.api.get(f"/api/sites/{self.site_id}/checklists/")
            assert r.status_code == 200, r.get_json()
            for v in r.get_json():
                self._versions[v["kind"]] = v
        return self._versions[kind]

    def checkpoint(self, code: str) -> Checkpoint:
        return db.session.execute(select(Checkpoint).where(Checkpoint.site_id == self.site_id, Checkpoint.short_code == code)).scalar_one()

    def visit(self, code: str = "F01", fail: tuple = (), extra: list | None = None, photo_ids=None,
              round_id: str | None = None, scanned_at: datetime | None = None, *, severity: str = "normal",
              dealt_on_spot: bool = False, **overrides) -> dict:
        """A visit.record of checkpoint `code`: every item ok except the `fail` indexes, each with a finding."""
        cp = self.checkpoint(code)
        version = self.version(cp.kind)
        when = scanned_at or self.now()
        results = []
        for n, item in enumerate(version["body"]["items"]):
            r = {"item_id": item["id"], "result": "ok"}
            if n in fail:
                r = {"item_id": item["id"], "result": "fail", "note": "broken",
                     "finding": {"finding_id": new_id(), "severity": severity, "dealt_on_spot": dealt_on_spot,
                                 "spot_note": "fixed it" if dealt_on_spot else "", "description": "broken"}}
            results.append(r)
        payload = {"visit_id": new_id(), "site_id": self.site_id, "checkpoint_id": cp.id, "checklist_version_id": version["id"],
                   "scanned_at": iso(when), "scan_method": "qr", "results": results}
        if extra:
            payload["extra_findings"] = extra
        if photo_ids:
            payload["photo_ids"] = list(photo_ids)
        if round_id:
            payload["round_id"] = round_id
        payload.update(overrides)
        return self.mutation("visit.record", payload, when)

    # --- pushing --------------------------------------------------------------------

    def push(self, mutations: list[dict], device_time: datetime | None = None, api: ApiClient | None = None):
        """One POST /api/sync/push of `mutations`; the response."""
        body = {"device_id": self.device_id, "device_time": iso(device_time or self.now()), "app_version": "test", "mutations": mutations}
        return (api or self.api).post("/api/sync/push", json=body)

    def push_ok(self, mutations: list[dict], **kw) -> list[dict]:
        """Push and assert a 200; the per-mutation results."""
        r = self.push(mutations, **kw)
        assert r.status_code == 200, r.get_json()
        return r.get_json()["results"]

    # --- the outbox, for retry tests ------------------------------------------------

    def queue(self, mutation: dict) -> dict:
        """Keep `mutation` in the outbox until the server answers it."""
        self.outbox.append(mutation)
        return mutation

    def record(self, kind: str, payload: dict) -> dict:
        """Build a mutation and keep it in the outbox."""
        return self.queue(self.mutation(kind, payload))

    def send(self, mutations: list[dict] | None = None):
        """One push of the outbox (or of `mutations`); answered ones leave the outbox."""
        r = self.push(copy.deepcopy(self.outbox if mutations is None else mutations))
        if r.status_code == 200:
            answered = {res["mutation_id"] for res in r.get_json()["results"]}
            self.outbox = [m for m in self.outbox if m["mutation_id"] not in answered]
        return r

    def sync(self, attempts: int = 5) -> list[dict]:
        """Push until the outbox is empty, retrying whatever the network or server does."""
        answers = []
        for _ in range(attempts):
            if not self.outbox:
                break
            try:
                r = self.send()
            except ConnectionDropped:
                continue
            if r.status_code == 200:
                answers.append(r.get_json())
        assert not self.outbox, "the outbox never emptied"
        return answers

    def pull_all(self, limit: int = 3, attempts: int = 50) -> dict:
        """Page through the change log; the cursor is saved only after a page is applied."""
        for _ in range(attempts):
            try:
                r = self.api.get(f"/api/sync/pull?cursor={self.cursor}&limit={limit}")
            except ConnectionDropped:
                continue
            if r.status_code == 410:
                self.cursor, self.store = 0, {}
                continue
            if r.status_code != 200:
                continue
            page = r.get_json()
            for ch in page["changes"]:
                key = (ch["entity"], ch["id"])
                if ch["op"] == "delete":
                    self.store.pop(key, None)
                else:
                    self.store[key] = ch["data"]
            self.cursor = page["cursor"]
            if not page["has_more"]:
                return self.store
        raise AssertionError("the pull never finished")


def statuses(results: list[dict]) -> list[str]:
    """The status of each result of a push, in order."""
    return [r["status"] for r in results]
