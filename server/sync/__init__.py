"""Offline sync (docs/sync.md): what the API, the CLI and other modules use of the push, pull and device parts."""

from .devices import devices_for_sites
from .handlers import KINDS
from .held import held
from .pull import check_cursor, ensure_checklists, prune_tombstones, pull
from .push import expected_photos, push

__all__ = [
    "KINDS",
    "check_cursor",
    "devices_for_sites",
    "ensure_checklists",
    "expected_photos",
    "held",
    "prune_tombstones",
    "pull",
    "push",
]
