"""Offline sync (docs/sync.md): what the API, the CLI and other modules use of the push, pull and device parts."""

from .devices import devices_for_sites
from .handlers import KINDS
from .held import held
from .pull import check_cursor, ensure_checklists, prune_tombstones, pull
from .push import photos_to_send, push

__all__ = [
    "KINDS",
    "check_cursor",
    "devices_for_sites",
    "ensure_checklists",
    "held",
    "photos_to_send",
    "prune_tombstones",
    "pull",
    "push",
]
