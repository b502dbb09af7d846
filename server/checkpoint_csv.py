"""Checkpoints as CSV: export a site (or one building), import all rows or none.

The format is documented in docs/checkpoints.md. Import checks every row before it
changes anything; when any row is wrong, nothing is saved and every wrong row is
reported with its line number, so a manager fixes the file once, not row by row.
"""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import func, select

from . import choices, sites
from .cells import export_cell, unguard
from .checklists import shipped
from .problems import Invalid
from .extensions import db
from .models import Checkpoint, Site

COLUMNS = ("kind", "name_zh", "name_en", "building", "floor", "unit", "short_code", "position", "active")
REQUIRED_COLUMNS = ("kind", "name_zh")
TEXT_LIMITS = {"name_zh": 200, "name_en": 200, "building": 64, "floor": 16, "unit": 32}
MAX_ROWS = 5000
CODE_RE = re.compile(r"^[A-Z0-9]{2,16}$")
TRUE_WORDS = {"true", "yes", "y", "1", "是", "启用"}
FALSE_WORDS = {"false", "no", "n", "0", "否", "停用"}


# --- export ------------------------------------------------------------------------------


def export_csv(site: Site, building: str | None = None) -> bytes:
    """Every checkpoint of a site (or of one building) in walking order, as UTF-8 CSV with BOM.

    The BOM makes Excel read the Chinese names correctly when the file is double-clicked.
    """
    stmt = select(Checkpoint).where(Checkpoint.site_id == site.id)
    if building is not None:
        stmt = stmt.where(Checkpoint.building == building)
    rows = db.session.execute(stmt.order_by(Checkpoint.position, Checkpoint.id)).scalars()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for cp in rows:
        writer.writerow(
            [
                cp.kind,
                export_cell(cp.name_zh),
                export_cell(cp.name_en),
                export_cell(cp.building),
                export_cell(cp.floor),
                export_cell(cp.unit),
                cp.short_code,
                cp.position,
                "true" if cp.active else "false",
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- import ------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 (with or without Excel's BOM); else GB18030, which Excel on Chinese Windows writes."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise _file_error("The file is neither UTF-8 nor GB18030 text; in Excel use Save As → CSV UTF-8.")


def _file_error(message: str) -> Invalid:
    return Invalid(f"The CSV cannot be read: {message} Nothing was imported.", "csv_invalid", {"rows": [{"line": 1, "errors": [message]}]})


def _kind_words() -> dict[str, str]:
    """Kind codes, and their Chinese and English names, each naming a kind."""
    words = {}
    for kind in choices.CHECKPOINT_KINDS:
        words[kind] = kind
        try:
            name = shipped(kind).name
        except (KeyError, RuntimeError):
            continue
        for text in name.values():
            words[text.strip().lower()] = kind
    return words


def _unguard(value: str) -> str:
    return unguard(value.strip())


def parse(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(header, [(line number, {column: raw value})]); blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header_row = next(reader, None)
    except csv.Error as exc:
        raise _file_error(f"the header line is not valid CSV ({exc}).")
    if header_row is None or not any(c.strip() for c in header_row):
        raise _file_error("the file is empty; the first line must name the columns: " + ",".join(COLUMNS) + ".")
    header = [c.strip().lower() for c in header_row]
    problems = []
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        problems.append(f"unknown column(s) {', '.join(repr(c) for c in unknown)}; the columns are {','.join(COLUMNS)}")
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        problems.append(f"column(s) named twice: {', '.join(dupes)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        problems.append(f"missing required column(s): {', '.join(missing)}")
    if problems:
        raise Invalid("The CSV header is wrong; nothing was imported.", "csv_invalid", {"rows": [{"line": 1, "errors": problems}]})
    rows = []
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows.append((line, {"__error__": f"not valid CSV ({exc})"}))
            break
        start, line = line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            rows.append((start, {"__error__": f"has {len(cells)} cells but the header names {len(header)} columns"}))
            continue
        rows.append((start, {col: _unguard(cells[i]) if i < len(cells) else "" for i, col in enumerate(header)}))
    return header, rows


def import_csv(site: Site, data: bytes | str, *, dry_run: bool = False) -> dict:
    """Create or update the site's checkpoints from CSV, all rows or none.

    A row whose short code exists at the site updates that checkpoint; any other row
    creates one. Rows not in the file are left alone. Raises problems.Invalid (422) listing every
    bad row; nothing is written then. With `dry_run` the rows are checked the same way
    and the answer says what an import would do, row by row, but nothing is written.
    """
    plans = _check(site, data)
    return _preview(site, plans) if dry_run else _apply(site, plans)


def _check(site: Site, data: bytes | str) -> list[tuple[int, Checkpoint | None, dict]]:
    """Every row read and checked: (line, existing checkpoint or None, values); 422 naming every bad row."""
    text = decode(data) if isinstance(data, bytes) else data.lstrip("\ufeff")
    header, rows = parse(text)
    if not rows:
        raise _file_error("the file has a header but no rows.")
    if len(rows) > MAX_ROWS:
        raise _file_error(f"the file has {len(rows)} rows; import at most {MAX_ROWS} at a time.")
    existing = {cp.short_code: cp for cp in db.session.execute(select(Checkpoint).where(Checkpoint.site_id == site.id)).scalars()}
    kinds = _kind_words()
    seen_codes: dict[str, int] = {}
    plans: list[tuple[int, Checkpoint | None, dict]] = []
    bad: list[dict] = []
    for line, raw in rows:
        if "__error__" in raw:
            bad.append({"line": line, "errors": [raw["__error__"]]})
            continue
        errors: list[str] = []
        values: dict = {}
        nul = [col for col, value in raw.items() if "\x00" in value]
        if nul:
            bad.append({"line": line, "errors": [f"{col}: contains a NUL character" for col in nul]})
            continue
        kind_raw = raw.get("kind", "")
        kind = kinds.get(kind_raw.strip().lower())
        if not kind_raw:
            errors.append("kind: required, one of " + ", ".join(choices.CHECKPOINT_KINDS))
        elif kind is None:
            errors.append(f"kind: unknown kind {kind_raw!r}; use one of " + ", ".join(choices.CHECKPOINT_KINDS))
        else:
            values["kind"] = kind
        if not raw.get("name_zh"):
            errors.append("name_zh: required")
        for col, limit in TEXT_LIMITS.items():
            if col in raw:
                if len(raw[col]) > limit:
                    errors.append(f"{col}: longer than {limit} characters")
                else:
                    values[col] = raw[col]
        target = None
        code = sites.normalise_code(raw.get("short_code", ""))
        if code:
            if not CODE_RE.match(code):
                errors.append(f"short_code: {raw['short_code']!r} must be 2-16 letters or digits")
            elif code in seen_codes:
                errors.append(f"short_code: {code} is also on line {seen_codes[code]}")
            else:
                seen_codes[code] = line
                values["short_code"] = code
                target = existing.get(code)
        position = raw.get("position", "")
        if position:
            try:
                number = int(position)
                if not 0 <= number <= 100000:
                    raise ValueError
                values["position"] = number
            except ValueError:
                errors.append(f"position: {position!r} must be a whole number from 0 to 100000")
        active = raw.get("active", "").strip().lower()
        if active:
            if active in TRUE_WORDS:
                values["active"] = True
            elif active in FALSE_WORDS:
                values["active"] = False
            else:
                errors.append(f"active: {raw['active']!r} must be true or false")
        if errors:
            bad.append({"line": line, "errors": errors})
        else:
            plans.append((line, target, values))
    if bad:
        raise Invalid(
            f"{len(bad)} row(s) of the CSV have problems; nothing was imported. Fix them and import the file again.",
            "csv_invalid",
            {"rows": bad},
        )
    return plans


def _changes(target: Checkpoint, values: dict) -> dict:
    return {k: v for k, v in values.items() if k != "short_code" and getattr(target, k) != v}


def _preview(site: Site, plans: list[tuple[int, Checkpoint | None, dict]]) -> dict:
    """What _apply would do, without doing it: new rows have no id yet (nor a code, when the file gives none)."""
    result = {"dry_run": True, "created": 0, "updated": 0, "unchanged": 0, "checkpoints": []}
    for line, target, values in plans:
        if target is None:
            action, changed = "created", []
            row = {"id": None, "short_code": values.get("short_code"), "name_zh": values.get("name_zh", "")}
        else:
            changed = sorted(_changes(target, values))
            action = "updated" if changed else "unchanged"
            row = {"id": target.id, "short_code": target.short_code, "name_zh": values.get("name_zh", target.name_zh)}
        result[action] += 1
        result["checkpoints"].append({"line": line, **row, "action": action, "changed": changed})
    return result


def _apply(site: Site, plans: list[tuple[int, Checkpoint | None, dict]]) -> dict:
    next_position = (db.session.execute(select(func.max(Checkpoint.position)).where(Checkpoint.site_id == site.id)).scalar() or 0) + 10
    result = {"dry_run": False, "created": 0, "updated": 0, "unchanged": 0, "checkpoints": []}
    for line, target, values in plans:
        if target is None:
            if "position" not in values:
                values["position"] = next_position
            next_position = max(next_position, values["position"]) + 10
            cp = sites.create_checkpoint(site.id, **values)
            action, changed = "created", {}
        else:
            changed = _changes(target, values)
            if changed:
                sites.update_checkpoint(target, **changed)
                action = "updated"
            else:
                action = "unchanged"
            cp = target
        result[action] += 1
        result["checkpoints"].append({"line": line, "id": cp.id, "short_code": cp.short_code, "name_zh": cp.name_zh, "action": action, "changed": sorted(changed)})
    return result
