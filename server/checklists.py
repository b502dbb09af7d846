"""Checklists as data: load and validate `checklists/*.toml`, and freeze versions.

A property manager edits the TOML files; a mistake must be reported with the file, the
item and the field, never as a traceback. The effective checklist of a site is the
shipped file plus the site's own items; every distinct content gets a version row.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from . import choices
from .changes import record_change
from .extensions import db
from .models import ChecklistVersion, SiteChecklistItem

ITEM_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$")
ITEM_FIELDS = {"id", "ref", "text", "methods", "category", "route"}
FILE_FIELDS = {"kind", "name", "source", "items"}


class ChecklistError(ValueError):
    """One or more problems in checklist files; `problems` holds each message."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Checklist:
    kind: str
    name: dict
    source: str
    items: tuple[dict, ...]

    def as_body(self) -> dict:
        return {"kind": self.kind, "name": self.name, "source": self.source, "items": list(self.items)}


def _check_text(value, where: str, problems: list[str], required_en: bool = True) -> None:
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a table with zh and en, e.g. {{ zh = \"…\", en = \"…\" }}")
        return
    for lang in ("zh", "en"):
        if not isinstance(value.get(lang), str) or not value.get(lang, "").strip():
            problems.append(f"{where}.{lang}: missing or empty")
    extra = set(value) - {"zh", "en"}
    if extra:
        problems.append(f"{where}: unknown language(s) {sorted(extra)}")


def validate_item(item, where: str, problems: list[str]) -> None:
    """Append a message for every problem of one item; `where` names file and item."""
    if not isinstance(item, dict):
        problems.append(f"{where}: must be a table")
        return
    for field in sorted(ITEM_FIELDS - {"ref"} - set(item)):
        problems.append(f"{where}: field '{field}' is missing")
    for field in sorted(set(item) - ITEM_FIELDS):
        problems.append(f"{where}: unknown field '{field}'")
    if "id" in item and (not isinstance(item["id"], str) or not ITEM_ID.match(item["id"])):
        problems.append(f"{where}: field 'id' must look like kind.short_name (lowercase), got {item['id']!r}")
    if "text" in item:
        _check_text(item["text"], f"{where}: field 'text'", problems)
    if "methods" in item:
        m = item["methods"]
        if not isinstance(m, list) or not m:
            problems.append(f"{where}: field 'methods' must be a non-empty list of {list(choices.METHODS)}")
        else:
            for bad in [x for x in m if x not in choices.METHODS]:
                problems.append(f"{where}: field 'methods' has unknown method {bad!r}; use {list(choices.METHODS)}")
    if "category" in item and item["category"] not in choices.CATEGORIES:
        problems.append(f"{where}: field 'category' is {item['category']!r}; use one of {list(choices.CATEGORIES)}")
    if "route" in item and item["route"] not in choices.ROUTES:
        problems.append(f"{where}: field 'route' is {item['route']!r}; use one of {list(choices.ROUTES)}")


def load_file(path: Path, problems: list[str]) -> Checklist | None:
    name = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{name}: not valid TOML: {exc}")
        return None
    before = len(problems)
    for field in sorted(FILE_FIELDS - {"source"} - set(data)):
        problems.append(f"{name}: field '{field}' is missing")
    for field in sorted(set(data) - FILE_FIELDS):
        problems.append(f"{name}: unknown field '{field}'")
    kind = data.get("kind")
    if "kind" in data and kind not in choices.CHECKPOINT_KINDS:
        problems.append(f"{name}: field 'kind' is {kind!r}; use one of {list(choices.CHECKPOINT_KINDS)}")
    elif kind and path.stem != kind:
        problems.append(f"{name}: kind {kind!r} must live in a file named {kind}.toml")
    if "name" in data:
        _check_text(data["name"], f"{name}: field 'name'", problems)
    items = data.get("items", [])
    if not isinstance(items, list) or ("items" in data and not items):
        problems.append(f"{name}: field 'items' must hold at least one [[items]] table")
        items = []
    seen: set[str] = set()
    for index, item in enumerate(items, start=1):
        label = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else f"#{index}"
        where = f"{name}: item {label}"
        validate_item(item, where, problems)
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            if item["id"] in seen:
                problems.append(f"{where}: id is used twice in this file")
            seen.add(item["id"])
            if kind and not item["id"].startswith(f"{kind}."):
                problems.append(f"{where}: field 'id' must start with '{kind}.'")
    if len(problems) > before:
        return None
    return Checklist(kind=kind, name=data["name"], source=data.get("source", ""), items=tuple(items))


def load_dir(directory: str | Path) -> dict[str, Checklist]:
    """Load every checklist file; raise ChecklistError listing all problems at once."""
    directory = Path(directory)
    problems: list[str] = []
    out: dict[str, Checklist] = {}
    if not directory.is_dir():
        raise ChecklistError([f"{directory}: checklist folder not found"])
    for path in sorted(directory.glob("*.toml")):
        checklist = load_file(path, problems)
        if checklist:
            out[checklist.kind] = checklist
    ids: dict[str, str] = {}
    for checklist in out.values():
        for item in checklist.items:
            if item["id"] in ids and ids[item["id"]] != checklist.kind:
                problems.append(f"{checklist.kind}.toml: item {item['id']}: id also used in {ids[item['id']]}.toml")
            ids[item["id"]] = checklist.kind
    for kind in choices.CHECKPOINT_KINDS:
        if kind not in out and not any(p.startswith(f"{kind}.toml") for p in problems):
            problems.append(f"{kind}.toml: missing: every checkpoint kind needs a checklist file")
    if problems:
        raise ChecklistError(problems)
    return out


def init_app(app) -> None:
    """Load and validate the shipped checklists at start: a broken file stops the app."""
    app.extensions["checklists"] = load_dir(app.config["CHECKLIST_DIR"])


def shipped(kind: str) -> Checklist:
    """The checklist file of a kind, as loaded when the app started."""
    return current_app.extensions["checklists"][kind]


def kind_names() -> dict[str, dict]:
    """Each checkpoint kind's name in Chinese and English, from its checklist file."""
    return {kind: shipped(kind).name for kind in choices.CHECKPOINT_KINDS}


def effective_body(site_id: int, kind: str) -> dict:
    """The shipped checklist of `kind` plus the site's own active items."""
    body = shipped(kind).as_body()
    extra = db.session.execute(
        select(SiteChecklistItem)
        .where(SiteChecklistItem.site_id == site_id, SiteChecklistItem.kind == kind, SiteChecklistItem.active)
        .order_by(SiteChecklistItem.id)
    ).scalars()
    for row in extra:
        body["items"].append(
            {
                "id": row.item_id,
                "ref": "site",
                "text": {"zh": row.text_zh, "en": row.text_en or row.text_zh},
                "methods": list(row.methods),
                "category": row.category,
                "route": row.route,
            }
        )
    return body


def content_hash(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def current_version(site_id: int, kind: str):
    """The ChecklistVersion row for today's content, created when the content is new."""
    body = effective_body(site_id, kind)
    digest = content_hash(body)
    stmt = select(ChecklistVersion).where(
        ChecklistVersion.site_id == site_id,
        ChecklistVersion.kind == kind,
        ChecklistVersion.content_hash == digest,
    )
    row = db.session.execute(stmt).scalar_one_or_none()
    if row:
        return row
    last = db.session.execute(
        select(func.max(ChecklistVersion.version)).where(
            ChecklistVersion.site_id == site_id, ChecklistVersion.kind == kind
        )
    ).scalar() or 0
    row = ChecklistVersion(site_id=site_id, kind=kind, version=last + 1, content_hash=digest, body=body)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        # Another worker froze the same content first: use theirs.
        row = db.session.execute(stmt).scalar_one()
        return row
    record_change("checklist", f"{site_id}:{kind}", site_id=site_id)
    return row


def items_by_id(version) -> dict[str, dict]:
    return {item["id"]: item for item in version.body["items"]}


def kind_item_ids(site_id: int, kind: str) -> set[str]:
    """Every item id a record about a checkpoint of `kind` may name: the shipped file's items and
    the site's own items of that kind (retired ones too, as `item_texts` names them)."""
    ids = {item["id"] for item in shipped(kind).items}
    ids.update(db.session.execute(
        select(SiteChecklistItem.item_id).where(SiteChecklistItem.site_id == site_id, SiteChecklistItem.kind == kind)
    ).scalars())
    return ids


def item_texts(site_id: int, item_ids) -> dict[str, dict]:
    """Each named item's text ({"zh", "en"}) by id: a shipped item of any kind, else one of the
    site's own (retired ones too: a record may name an item no longer checked). Unknown ids are left out."""
    wanted = {i for i in item_ids if i}
    out: dict[str, dict] = {}
    for checklist in current_app.extensions["checklists"].values():
        for item in checklist.items:
            if item["id"] in wanted:
                out[item["id"]] = dict(item["text"])
    rest = wanted - set(out)
    if rest:
        for row in db.session.execute(
            select(SiteChecklistItem).where(SiteChecklistItem.site_id == site_id, SiteChecklistItem.item_id.in_(rest))
        ).scalars():
            out[row.item_id] = {"zh": row.text_zh, "en": row.text_en or row.text_zh}
    return out
