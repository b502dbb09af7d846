"""Reading one mutation's payload: field checks that name every problem, and the codes a rejected record gets."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from .. import choices, field_errors
from ..field_errors import DUPLICATE, FINDING_NOT_FAILED, INVALID, NUL, ONE_OF, REQUIRED, TOO_LONG, TOO_MANY

# Rejection codes of single mutations (docs/sync.md lists each with an example).
INVALID_PAYLOAD = "invalid_payload"
UNKNOWN_KIND = "unknown_kind"
ID_CONFLICT = "id_conflict"
SEQ_CONFLICT = "seq_conflict"
FORBIDDEN_SITE = "forbidden_site"
UNKNOWN_CHECKPOINT = "unknown_checkpoint"
UNKNOWN_CHECKLIST_VERSION = "unknown_checklist_version"
UNKNOWN_ITEM = "unknown_item"
MISSING_FINDING = "missing_finding"
RECORD_EXISTS = "record_exists"
UNKNOWN_ROUND = "unknown_round"
ROUND_ENDED = "round_ended"
UNKNOWN_PLAN = "unknown_plan"
PHOTO_CONFLICT = "photo_conflict"
UNKNOWN_TASK = "unknown_task"

MAX_TEXT = 4000
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Rejection(Exception):
    """One mutation is refused; the others of the push go on."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    @classmethod
    def of(cls, exc) -> "Rejection":
        """A domain problem (server.problems) refusing this mutation: its code, message and
        details, with `field_errors` beside `fields` as the API gives them."""
        return cls(exc.code, exc.message, field_errors.with_codes(exc.details))

    def as_result(self) -> dict:
        out = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


def parse_time(value) -> datetime | None:
    """An ISO 8601 time with an offset (or Z) → naive UTC; None when it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


class Fields:
    """Reads one payload's fields, collecting every problem before rejecting once.

    Each problem is an English message (`details.fields`) and, beside it, its stable code and
    parameters (`details.field_errors`, the API's shape and codes: server/field_errors.py), so
    the phone says it in its reader's language.

    Unknown keys are ignored so that a newer app can add fields without its records
    being refused by an older server.
    """

    def __init__(self, data, prefix: str = "", errors: dict | None = None, described: dict | None = None):
        self.data = data if isinstance(data, dict) else {}
        self.prefix = prefix
        self.errors = {} if errors is None else errors
        self.described = {} if described is None else described
        if not isinstance(data, dict):
            self.fail("", "must be an object", INVALID, type="object")

    def fail(self, key: str, message: str, code: str, **params) -> None:
        """A problem with the field `key`: its message for people, its code (field_errors) and the code's parameters."""
        path = f"{self.prefix}{key}" or "payload"
        self.errors.setdefault(path, []).append(message)
        self.described.setdefault(path, []).append(field_errors.entry(code, message, **params))

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _given(self, key: str, required: bool):
        """The value, or None when absent (a problem only if the field is required)."""
        value = self.data.get(key)
        if value is None and required:
            self.fail(key, "required", REQUIRED)
        return value

    def uuid(self, key: str, required: bool = True) -> str | None:
        value = self._given(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or not UUID_RE.match(value.lower()):
            self.fail(key, "must be a UUID", INVALID, type="uuid")
            return None
        return value.lower()

    def int(self, key: str, required: bool = True) -> int | None:
        value = self._given(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not (0 < value < 2**53):
            self.fail(key, "must be a positive whole number", INVALID, type="integer")
            return None
        return value

    def text(self, key: str, required: bool = False, max_len: int = MAX_TEXT) -> str:
        value = self._given(key, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.fail(key, "must be text", INVALID, type="string")
            return ""
        if "\x00" in value:
            # PostgreSQL cannot store it (and refused the whole push): refused here, this record alone, on both databases.
            self.fail(key, "must not contain NUL characters", NUL)
            return ""
        if len(value) > max_len:
            self.fail(key, f"at most {max_len} characters", TOO_LONG, max=max_len)
            return ""
        if required and not value.strip():
            self.fail(key, "must not be empty", REQUIRED)
        return value

    def choice(self, key: str, options, default=None):
        value = self.data.get(key)
        if value is None:
            if default is None:
                self.fail(key, "required", REQUIRED)
            return default
        if value not in options:
            self.fail(key, f"must be one of {list(options)}", ONE_OF, choices=", ".join(map(str, options)))
            return default
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            self.fail(key, "must be true or false", INVALID, type="boolean")
            return False
        return value

    def time(self, key: str) -> datetime | None:
        value = self._given(key, True)
        if value is None:
            return None
        dt = parse_time(value)
        if dt is None:
            self.fail(key, "must be an ISO 8601 time with an offset, e.g. 2026-05-01T08:30:00Z", INVALID, type="datetime")
        return dt

    def _list(self, key: str, limit: int, of: str) -> list:
        """The list under `key`, or [] when absent or not a list of at most `limit` (a problem)."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"must be a list of at most {limit} {of}", INVALID, type="list")
            return []
        if len(value) > limit:
            self.fail(key, f"must be a list of at most {limit} {of}", TOO_MANY, max=limit)
            return []
        return value

    def uuids(self, key: str, limit: int = 20) -> list[str]:
        out = []
        for v in self._list(key, limit, "UUIDs"):
            if not isinstance(v, str) or not UUID_RE.match(v.lower()):
                self.fail(key, "must be a list of UUIDs", INVALID, type="uuid")
                return []
            if v.lower() not in out:
                out.append(v.lower())
        return out

    def objects(self, key: str, limit: int = 200) -> list:
        return self._list(key, limit, "objects")

    def sub(self, data, prefix: str) -> "Fields":
        return Fields(data, self.prefix + prefix, self.errors, self.described)

    def check(self) -> None:
        if self.errors:
            names = ", ".join(sorted(self.errors))
            raise Rejection(INVALID_PAYLOAD, f"Some fields of this record are not valid: {names}.",
                            {"fields": self.errors, "field_errors": self.described})


PLAIN_RESULT_KEYS = frozenset(("item_id", "result", "note", "photo_ids", "finding"))


def plain_result(raw) -> tuple[str, str, str] | None:
    """(item_id, result, note) of a valid item result without photos or finding, else None.

    The fast path for the usual item (8 per visit, 100 visits per push); anything else
    goes through Fields, which names each problem.
    """
    if type(raw) is not dict or not raw.keys() <= PLAIN_RESULT_KEYS or raw.get("finding") is not None or raw.get("photo_ids") not in (None, []):
        return None
    item_id, outcome, note = raw.get("item_id"), raw.get("result"), raw.get("note")
    if type(item_id) is not str or not 0 < len(item_id) <= 80 or not item_id.strip() or outcome not in choices.RESULTS or "\x00" in item_id:
        return None
    if note is None:
        note = ""
    elif type(note) is not str or len(note) > MAX_TEXT or "\x00" in note:
        return None
    return item_id, outcome, note


def plain_uuid(value) -> str | None:
    """A UUID as Fields.uuid reads it (lower case), or None when it is not plainly one."""
    if type(value) is not str or len(value) != 36:
        return None
    value = value.lower()
    return value if UUID_RE.match(value) else None


def plain_id(value) -> bool:
    """True for a value Fields.int takes as it is."""
    return type(value) is int and 0 < value < 2**53


def plain_text(value) -> bool:
    """True for an optional text Fields.text takes as it is (absent, or text within MAX_TEXT)."""
    return value is None or (type(value) is str and len(value) <= MAX_TEXT and "\x00" not in value)


PLAIN_FINDING_KEYS = frozenset(("finding_id", "severity", "dealt_on_spot", "spot_note", "photo_ids", "description"))


def plain_item_finding(raw) -> tuple[str, str, str, bool, str] | None:
    """(finding_id, description, severity, dealt_on_spot, spot_note) of a failed item's finding
    that Fields would read without a problem and that names no photos, else None."""
    if type(raw) is not dict or not raw.keys() <= PLAIN_FINDING_KEYS or raw.get("photo_ids") not in (None, []):
        return None
    finding_id = plain_uuid(raw.get("finding_id"))
    severity, dealt = raw.get("severity"), raw.get("dealt_on_spot", False)
    description, spot_note = raw.get("description"), raw.get("spot_note")
    if finding_id is None or type(dealt) is not bool or not plain_text(description) or not plain_text(spot_note):
        return None
    if severity is None:
        severity = choices.SEVERITY_NORMAL
    elif type(severity) is not str or severity not in choices.SEVERITIES:
        return None
    return finding_id, description or "", severity, dealt, spot_note or ""
