"""Month-end filing: a site's month and its read-only rule, its figures, its bundle and PDF, and sealing and filing them.

- state.py: open → sealed → archived → purged; `ensure_writable`, `is_sealed`, the filing row;
- summary.py: the month's figures;
- bundle.py: what a bundle holds, writing its zip and manifest, checking filed files;
- pdf.py: the printable record.pdf (loaded only when a month is filed);
- filing.py: `seal`, `build_bundle`, `build_pending`, and the transactions around them.

Month arithmetic and the month format are server/months.py; the purge is server/retention.py.
"""

from .bundle import file_for, sha256_file, verify_filed, verify_zip
from .filing import build_bundle, build_pending, seal
from .state import (
    describe_month,
    ensure_writable,
    get_row,
    is_sealed,
    months,
    previous_month,
    state_of,
    task_month,
)
from .summary import summary

__all__ = [
    "build_bundle",
    "build_pending",
    "describe_month",
    "ensure_writable",
    "file_for",
    "get_row",
    "is_sealed",
    "months",
    "previous_month",
    "seal",
    "sha256_file",
    "state_of",
    "summary",
    "task_month",
    "verify_filed",
    "verify_zip",
]
