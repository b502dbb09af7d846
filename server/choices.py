"""Every status, kind and role of the domain as named constants, in one place.

Models, schemas, checklists, the PWA (through /api/meta) and tests all use these, so a
word means the same thing everywhere.
"""

# People (DOMAIN.md "People").
PATROLLER = "patroller"
SUPERVISOR = "supervisor"
MANAGER = "manager"
ARCHIVIST = "archivist"
ADMIN = "admin"
ROLES = (PATROLLER, SUPERVISOR, MANAGER, ARCHIVIST, ADMIN)

# Checkpoint kinds (DOMAIN.md § 8-13); each has a file in checklists/.
CHECKPOINT_KINDS = (
    "floor",
    "elevator_car",
    "lobby",
    "outdoor_plaza",
    "car_park",
    "vacant_unit",
)

# The four methods of checking (§ 7).
METHODS = ("look", "listen", "touch", "ask")

# What a patrol looks for (§ 1-5); talking with residents (6) is a note, not a defect.
CATEGORIES = (
    "security_hazard",
    "facilities",
    "cleanliness",
    "landscaping",
    "renovation_violation",
)

# How a problem is routed by its cause (§ 14.2).
ROUTE_FACILITY_REPAIR = "facility_repair"
ROUTE_DEPARTMENT_WORK = "department_work"
ROUTE_RESIDENT_VIOLATION = "resident_violation"
ROUTES = (ROUTE_FACILITY_REPAIR, ROUTE_DEPARTMENT_WORK, ROUTE_RESIDENT_VIOLATION)

# Departments a site starts with (editable per site).
DEFAULT_DEPARTMENTS = (
    ("engineering", "工程维修部", "Engineering and repairs"),
    ("cleaning", "保洁部", "Cleaning"),
    ("security", "保安部", "Security"),
    ("landscaping", "绿化部", "Landscaping"),
    ("customer_service", "客服部", "Customer service"),
)

# One checklist item's outcome.
RESULT_OK = "ok"
RESULT_FAIL = "fail"
RESULT_NA = "na"
RESULTS = (RESULT_OK, RESULT_FAIL, RESULT_NA)

SEVERITY_NORMAL = "normal"
SEVERITY_MAJOR = "major"
SEVERITIES = (SEVERITY_NORMAL, SEVERITY_MAJOR)

# How the patroller reached the checkpoint.
SCAN_QR = "qr"
SCAN_CODE = "code"
SCAN_URL = "url"
SCAN_METHODS = (SCAN_QR, SCAN_CODE, SCAN_URL)

# Rounds.
ROUND_OPEN = "open"
ROUND_ENDED = "ended"

# Repair task states (issue 4): open → assigned → in_progress → done → verified.
TASK_OPEN = "open"
TASK_ASSIGNED = "assigned"
TASK_IN_PROGRESS = "in_progress"
TASK_DONE = "done"  # awaiting verification on site
TASK_VERIFIED = "verified"  # closed
TASK_CANCELLED = "cancelled"
TASK_STATES = (TASK_OPEN, TASK_ASSIGNED, TASK_IN_PROGRESS, TASK_DONE, TASK_VERIFIED, TASK_CANCELLED)
TASK_CLOSED_STATES = (TASK_VERIFIED, TASK_CANCELLED)

EXTENSION_PENDING = "pending"
EXTENSION_APPROVED = "approved"
EXTENSION_REJECTED = "rejected"
EXTENSION_STATES = (EXTENSION_PENDING, EXTENSION_APPROVED, EXTENSION_REJECTED)

VERIFY_PASS = "pass"
VERIFY_FAIL = "fail"
VERIFY_RESULTS = (VERIFY_PASS, VERIFY_FAIL)

# Photos: a record may name a photo before its bytes arrive (offline-sync G6).
PHOTO_EXPECTED = "expected"
PHOTO_RECEIVED = "received"
PHOTO_PURPOSES = ("finding", "visit", "after", "comment", "signature")

# Sync push outcomes and rejection codes (docs/sync.md).
SYNC_APPLIED = "applied"
SYNC_DUPLICATE = "duplicate"
SYNC_REJECTED = "rejected"

# Webhook presets.
WEBHOOK_PRESETS = ("generic", "wecom", "dingtalk")
WEBHOOK_PENDING = "pending"
WEBHOOK_SENT = "sent"
WEBHOOK_FAILED = "failed"  # gave up after the last retry; shown to admins

# What a notification is about (the in-app feed).
NOTIFY_MAJOR_FINDING = "major_finding"
NOTIFY_OVERDUE = "task_overdue"
NOTIFY_ASSIGNED = "task_assigned"
NOTIFY_EXTENSION_REQUESTED = "extension_requested"
NOTIFY_EXTENSION_DECIDED = "extension_decided"
NOTIFY_KINDS = (NOTIFY_MAJOR_FINDING, NOTIFY_OVERDUE, NOTIFY_ASSIGNED, NOTIFY_EXTENSION_REQUESTED, NOTIFY_EXTENSION_DECIDED)

# Residents'-convention case outcomes (a resident_violation task's `case`).
CASE_RECTIFIED = "rectified"
CASE_ESCALATED = "escalated"
CASE_OUTCOMES = (CASE_RECTIFIED, CASE_ESCALATED)

# A site's month as filed (issue 7, docs/archive.md).
MONTH_OPEN = "open"
MONTH_SEALED = "sealed"  # read-only; the bundle is not built yet
MONTH_ARCHIVED = "archived"  # sealed and its bundle built and hashed
MONTH_PURGED = "purged"  # its records removed after the retention period
MONTH_STATES = (MONTH_OPEN, MONTH_SEALED, MONTH_ARCHIVED, MONTH_PURGED)
