"""Every status, kind, role, purpose, route and department code of the domain, as named constants.

Models, schemas, checklist validation and the domain modules use these names rather than
the strings, and `GET /api/meta` serves every list to clients (`vocabulary()`), so a word
means the same thing everywhere. The label a person sees for value `v` of list `name` is
the translation key `LABEL_KEYS[name] + v`.
"""

# People (DOMAIN.md "People").
PATROLLER = "patroller"
SUPERVISOR = "supervisor"
MANAGER = "manager"
ARCHIVIST = "archivist"
ADMIN = "admin"
RECEPTIONIST = "receptionist"  # 客服助理: takes residents' complaints and makes return visits
ROLES = (PATROLLER, SUPERVISOR, MANAGER, ARCHIVIST, ADMIN, RECEPTIONIST)

# Checkpoint kinds (DOMAIN.md § 8-13); each has a file in checklists/.
KIND_FLOOR = "floor"
KIND_ELEVATOR_CAR = "elevator_car"
KIND_LOBBY = "lobby"
KIND_OUTDOOR_PLAZA = "outdoor_plaza"
KIND_CAR_PARK = "car_park"
KIND_VACANT_UNIT = "vacant_unit"
CHECKPOINT_KINDS = (KIND_FLOOR, KIND_ELEVATOR_CAR, KIND_LOBBY, KIND_OUTDOOR_PLAZA, KIND_CAR_PARK, KIND_VACANT_UNIT)

# The four methods of checking (§ 7).
METHODS = ("look", "listen", "touch", "ask")

# What a patrol looks for (§ 1-5); talking with residents (6) is a note, not a defect.
CAT_SECURITY_HAZARD = "security_hazard"
CAT_FACILITIES = "facilities"
CAT_CLEANLINESS = "cleanliness"
CAT_LANDSCAPING = "landscaping"
CAT_RENOVATION_VIOLATION = "renovation_violation"
CATEGORIES = (CAT_SECURITY_HAZARD, CAT_FACILITIES, CAT_CLEANLINESS, CAT_LANDSCAPING, CAT_RENOVATION_VIOLATION)

# How a problem is routed by its cause (§ 14.2).
ROUTE_FACILITY_REPAIR = "facility_repair"
ROUTE_DEPARTMENT_WORK = "department_work"
ROUTE_RESIDENT_VIOLATION = "resident_violation"
ROUTES = (ROUTE_FACILITY_REPAIR, ROUTE_DEPARTMENT_WORK, ROUTE_RESIDENT_VIOLATION)

# Departments a site starts with (editable per site); work is routed to them by code.
DEPT_ENGINEERING = "engineering"
DEPT_CLEANING = "cleaning"
DEPT_SECURITY = "security"
DEPT_LANDSCAPING = "landscaping"
DEPT_CUSTOMER_SERVICE = "customer_service"
DEFAULT_DEPARTMENTS = (
    (DEPT_ENGINEERING, "工程维修部", "Engineering and repairs"),
    (DEPT_CLEANING, "保洁部", "Cleaning"),
    (DEPT_SECURITY, "保安部", "Security"),
    (DEPT_LANDSCAPING, "绿化部", "Landscaping"),
    (DEPT_CUSTOMER_SERVICE, "客服部", "Customer service"),
)
DEPARTMENT_CODES = tuple(code for code, _zh, _en in DEFAULT_DEPARTMENTS)

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

# Why a checkpoint was visited: on a patrol round, or to verify a fix on site.
VISIT_PATROL = "patrol"
VISIT_VERIFY = "verify"
VISIT_PURPOSES = (VISIT_PATROL, VISIT_VERIFY)

# Rounds.
ROUND_OPEN = "open"
ROUND_ENDED = "ended"
ROUND_STATES = (ROUND_OPEN, ROUND_ENDED)
# Why a planned checkpoint was not visited, as the patroller says at the end of the round.
MISSED_LOCKED = "locked"
MISSED_UNDER_REPAIR = "under_repair"
MISSED_NO_ACCESS = "no_access"
MISSED_OTHER = "other"  # needs a few words
MISSED_REASONS = (MISSED_LOCKED, MISSED_UNDER_REPAIR, MISSED_NO_ACCESS, MISSED_OTHER)

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
# Who signs a verification on site: the verifier always, the fixer and the supervisor when present.
SIGNER_FIXER = "fixer"
SIGNER_VERIFIER = "verifier"
SIGNER_SUPERVISOR = "supervisor"
SIGNERS = (SIGNER_FIXER, SIGNER_VERIFIER, SIGNER_SUPERVISOR)

# Photos: a record may name a photo before its bytes arrive (offline-sync G6).
PHOTO_EXPECTED = "expected"
PHOTO_RECEIVED = "received"
# Its upload arrived but could not be read as an image (damaged, not an image, too many
# pixels): the phone is told which photo to take again, the supervisor sees it as such.
PHOTO_UNREADABLE = "unreadable"
PHOTO_STATES = (PHOTO_EXPECTED, PHOTO_RECEIVED, PHOTO_UNREADABLE)
# The refusals of an upload that mean "unreadable" rather than "try again".
PHOTO_UNREADABLE_CODES = ("not_an_image", "too_many_pixels")
# What a photo shows: a finding's problem, a visit, the fixed work, a comment's, a drawn signature.
PHOTO_FINDING = "finding"
PHOTO_VISIT = "visit"
PHOTO_AFTER = "after"
PHOTO_COMMENT = "comment"
PHOTO_SIGNATURE = "signature"
PHOTO_COMPLAINT = "complaint"
PHOTO_PURPOSES = (PHOTO_FINDING, PHOTO_VISIT, PHOTO_AFTER, PHOTO_COMMENT, PHOTO_SIGNATURE, PHOTO_COMPLAINT)

# Sync push outcomes (docs/sync.md); the rejection codes are in server/sync/fields.py.
SYNC_APPLIED = "applied"
SYNC_DUPLICATE = "duplicate"
SYNC_REJECTED = "rejected"
SYNC_OUTCOMES = (SYNC_APPLIED, SYNC_DUPLICATE, SYNC_REJECTED)

# Webhook presets.
WEBHOOK_GENERIC = "generic"  # JSON, signed with the secret
WEBHOOK_WECOM = "wecom"  # 企业微信群机器人
WEBHOOK_DINGTALK = "dingtalk"  # 钉钉群机器人
WEBHOOK_PRESETS = (WEBHOOK_GENERIC, WEBHOOK_WECOM, WEBHOOK_DINGTALK)
# A webhook delivery's state.
WEBHOOK_PENDING = "pending"
WEBHOOK_SENT = "sent"
WEBHOOK_FAILED = "failed"  # gave up after the last retry; shown to admins
WEBHOOK_STATES = (WEBHOOK_PENDING, WEBHOOK_SENT, WEBHOOK_FAILED)

# What a notification is about (the in-app feed).
NOTIFY_MAJOR_FINDING = "major_finding"
NOTIFY_OVERDUE = "task_overdue"
NOTIFY_ASSIGNED = "task_assigned"
NOTIFY_EXTENSION_REQUESTED = "extension_requested"
NOTIFY_EXTENSION_DECIDED = "extension_decided"
NOTIFY_COMPLAINT_ESCALATED = "complaint_escalated"
NOTIFY_TASK_OPENED = "task_opened"  # a new task waits to be routed and assigned (supervisors)
NOTIFY_KINDS = (NOTIFY_MAJOR_FINDING, NOTIFY_OVERDUE, NOTIFY_ASSIGNED, NOTIFY_EXTENSION_REQUESTED, NOTIFY_EXTENSION_DECIDED, NOTIFY_COMPLAINT_ESCALATED, NOTIFY_TASK_OPENED)

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

# Residents' complaints (业主投诉处理规定, docs/complaints.md).
CHANNEL_VISIT = "visit"  # 来人
CHANNEL_LETTER = "letter"  # 来函
CHANNEL_PHONE = "phone"  # 来电
CHANNEL_OTHER = "other"  # 其它
COMPLAINT_CHANNELS = (CHANNEL_VISIT, CHANNEL_LETTER, CHANNEL_PHONE, CHANNEL_OTHER)
# Kinds: ordinary within customer service's own scope (same day), transferred to another
# department (three days), special or urgent (three days, to the manager at once).
COMPLAINT_ORDINARY = "ordinary"
COMPLAINT_TRANSFERRED = "transferred"
COMPLAINT_SPECIAL = "special"
COMPLAINT_KINDS = (COMPLAINT_ORDINARY, COMPLAINT_TRANSFERRED, COMPLAINT_SPECIAL)
# received → valid (judged) → assigned → in_progress → proposed → approved → accepted → replied → closed;
# received → invalid (closed with its reason); a not-satisfied return visit reopens to in_progress.
COMPLAINT_RECEIVED = "received"
COMPLAINT_VALID = "valid"
COMPLAINT_ASSIGNED = "assigned"
COMPLAINT_IN_PROGRESS = "in_progress"
COMPLAINT_PROPOSED = "proposed"
COMPLAINT_APPROVED = "approved"
COMPLAINT_ACCEPTED = "accepted"
COMPLAINT_REPLIED = "replied"  # awaiting the return visit
COMPLAINT_CLOSED = "closed"
COMPLAINT_INVALID = "invalid"  # closed: outside the service contract, with its reason
COMPLAINT_STATES = (
    COMPLAINT_RECEIVED, COMPLAINT_VALID, COMPLAINT_ASSIGNED, COMPLAINT_IN_PROGRESS, COMPLAINT_PROPOSED,
    COMPLAINT_APPROVED, COMPLAINT_ACCEPTED, COMPLAINT_REPLIED, COMPLAINT_CLOSED, COMPLAINT_INVALID,
)
COMPLAINT_CLOSED_STATES = (COMPLAINT_CLOSED, COMPLAINT_INVALID)
# States in which the complaint is still being handled: the deadline and escalation apply.
COMPLAINT_HANDLING_STATES = COMPLAINT_STATES[:7]
# Escalation, level by level (接待人 → 客服主管 → 客服经理 → 总经理).
LEVEL_RECEIVER = "receiver"
LEVEL_SUPERVISOR = "supervisor"
LEVEL_MANAGER = "manager"
LEVEL_GENERAL_MANAGER = "general_manager"
ESCALATION_LEVELS = (LEVEL_RECEIVER, LEVEL_SUPERVISOR, LEVEL_MANAGER, LEVEL_GENERAL_MANAGER)
# A return visit's result (回访记录表).
SATISFIED = "satisfied"
AVERAGE = "average"
NOT_SATISFIED = "not_satisfied"
SATISFACTION = (SATISFIED, AVERAGE, NOT_SATISFIED)
# A site that counts complaint deadlines in business days (Site.complaint_business_days) names its weekend.
WEEKEND_SAT_SUN = "sat_sun"
WEEKEND_SUN = "sun"
COMPLAINT_WEEKENDS = (WEEKEND_SAT_SUN, WEEKEND_SUN)
WEEKEND_DAYS = {WEEKEND_SAT_SUN: (5, 6), WEEKEND_SUN: (6,)}  # date.weekday(): Monday is 0
RETURN_VISIT_DUE_DAYS = 3  # every closed complaint is visited within three days (回访规范)


# The lists clients read through /api/meta, and the translation-key prefix of each value's label.
VOCABULARY = {
    "roles": (ROLES, "role_"),
    "checkpoint_kinds": (CHECKPOINT_KINDS, "kind_"),
    "methods": (METHODS, "method_"),
    "categories": (CATEGORIES, "cat_"),
    "routes": (ROUTES, "route_"),
    "departments": (DEPARTMENT_CODES, "dept_"),
    "results": (RESULTS, "result_"),
    "severities": (SEVERITIES, "severity_"),
    "scan_methods": (SCAN_METHODS, "scan_"),
    "visit_purposes": (VISIT_PURPOSES, "purpose_"),
    "round_states": (ROUND_STATES, "round_state_"),
    "missed_reasons": (MISSED_REASONS, "missed_reason_"),
    "task_states": (TASK_STATES, "task_state_"),
    "task_closed_states": (TASK_CLOSED_STATES, "task_state_"),
    "extension_states": (EXTENSION_STATES, "ext_state_"),
    "verify_results": (VERIFY_RESULTS, "verify_"),
    "photo_states": (PHOTO_STATES, "photo_state_"),
    "photo_purposes": (PHOTO_PURPOSES, "photo_purpose_"),
    "sync_outcomes": (SYNC_OUTCOMES, "sync_"),
    "webhook_presets": (WEBHOOK_PRESETS, "webhook_preset_"),
    "webhook_states": (WEBHOOK_STATES, "webhook_state_"),
    "notify_kinds": (NOTIFY_KINDS, "desk_kind_"),
    "case_outcomes": (CASE_OUTCOMES, "case_"),
    "month_states": (MONTH_STATES, "month_state_"),
    "complaint_channels": (COMPLAINT_CHANNELS, "complaint_channel_"),
    "complaint_kinds": (COMPLAINT_KINDS, "complaint_kind_"),
    "complaint_weekends": (COMPLAINT_WEEKENDS, "complaint_weekend_"),
    "complaint_states": (COMPLAINT_STATES, "complaint_state_"),
    "complaint_closed_states": (COMPLAINT_CLOSED_STATES, "complaint_state_"),
    "escalation_levels": (ESCALATION_LEVELS, "complaint_level_"),
    "satisfaction": (SATISFACTION, "satisfaction_"),
}
LABEL_KEYS = {name: prefix for name, (_values, prefix) in VOCABULARY.items()}


def vocabulary() -> dict:
    """Every list above as plain JSON, with each list's label-key prefix."""
    return {
        "lists": {name: list(values) for name, (values, _prefix) in VOCABULARY.items()},
        "label_prefixes": dict(LABEL_KEYS),
    }
