"""Month-end filing: a site's month and its read-only rule, its figures, its bundle and PDF, and sealing and filing them.

- state.py: when a month ends, its filing row, how it is described (the read-only rule of sealed
  months is server/sealing.py);
- summary.py: the month's figures;
- bundle.py: what a bundle holds, writing its zip and manifest, checking filed files;
- pdf.py: the printable record.pdf (loaded only when a month is filed);
- filing.py: `seal`, `build_bundle`, `build_pending`, and the transactions around them.

Month arithmetic and the month format are server/months.py; the purge is server/retention.py.
"""

from .bundle import file_for, file_key, sha256_file, verify_filed, verify_zip
from .filing import build_bundle, build_pending, seal
from .state import describe_month, get_row, months, previous_month
from .summary import summary

__all__ = [
    "build_bundle",
    "build_pending",
    "describe_month",
    "file_for",
    "file_key",
    "get_row",
    "months",
    "previous_month",
    "seal",
    "sha256_file",
    "summary",
    "verify_filed",
    "verify_zip",
]
