"""Where file bytes live: photos and month bundles, on the local disk (the default) or in S3-compatible object storage.

Two areas share one interface (`Store`): `photos` (display copies and thumbnails, which
include the signature PNGs turned into JPEGs) and `archives` (the month bundles and
addenda). Keys inside an area are relative paths (`ab/<photo id>.display.jpg`,
`<SITE>/<YYYY-MM>/<name>.zip`), the same on either backend, so moving a local store to
a bucket (`flask storage migrate`) keeps every key.

Every write is all or nothing (`Store.put`): the bytes go to a temporary name first,
their SHA-256 is checked against what the store then holds, and only then do they
appear under the real key. A crash leaves at most a temporary, never a half object
under a real key; `flask storage sweep` removes temporaries older than
STORAGE_TEMP_HOURS.

The backend is chosen by STORAGE_BACKEND (README, configuration): `local` writes under
PHOTO_DIR and ARCHIVE_DIR; `s3` writes to S3_BUCKET through boto3 (local.py, s3.py).
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, Callable, Iterator, NamedTuple

from flask import current_app

AREAS = ("photos", "archives")
CHUNK = 1 << 16


class StorageError(RuntimeError):
    """The store could not be reached, or refused or damaged a write."""


class MissingObject(StorageError):
    """No object under this key."""


def sha256_stream(fh: IO[bytes]) -> str:
    h = hashlib.sha256()
    while chunk := fh.read(CHUNK):
        h.update(chunk)
    return h.hexdigest()


def sha256_file(path) -> str:
    with open(path, "rb") as fh:
        return sha256_stream(fh)


class Staged(NamedTuple):
    """Bytes on their way to a key (`Store.stage`): `publish()` makes them appear under it and
    returns their SHA-256; `discard()` drops them. Exactly one of the two is called."""

    publish: Callable[[], str]
    discard: Callable[[], None]


class Store:
    """One area of the file store. Keys are relative paths with forward slashes."""

    backend = "?"

    def stage(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> Staged:
        """`put` in two steps, for a caller that writes the bytes before it takes a lock and
        names them under it: the bytes are written and checked under a temporary name now."""
        raise NotImplementedError

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Store `data` under `key`, all or nothing, verified by SHA-256; returns the hash."""
        return self.stage(key, data, content_type).publish()

    def put_file(self, key: str, path: Path, sha256: str | None = None, content_type: str = "application/octet-stream") -> str:
        """Store a local file's bytes under `key`, as `put` does; returns the hash."""
        raise NotImplementedError

    @contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        """A readable binary stream of the object (MissingObject if there is none)."""
        raise NotImplementedError
        yield

    def read(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def size(self, key: str) -> int:
        raise NotImplementedError

    def sha256(self, key: str) -> str:
        """The SHA-256 of the bytes the store holds now (read in full, not a recorded value)."""
        with self.open(key) as fh:
            return sha256_stream(fh)

    def recorded_sha256(self, key: str) -> str | None:
        """The SHA-256 recorded with the object when it was written, when the backend keeps one (cheap)."""
        return None

    def delete(self, key: str) -> bool:
        """Remove the object; False when it was not there."""
        raise NotImplementedError

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key of the area (temporaries excluded), in no particular order."""
        raise NotImplementedError

    def local_path(self, key: str) -> Path | None:
        """A file on this machine holding the object, if the backend has one (lets Flask send it with Range support)."""
        return None

    def sweep(self, older_than: timedelta) -> int:
        """Remove temporaries of interrupted writes older than `older_than`; returns how many."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise StorageError unless the store can be reached (health check)."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or "\\" in key or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"not a storage key: {key!r}")
    return key


def get_store(area: str) -> Store:
    """The store of an area (`photos` or `archives`) for the current app's configuration."""
    if area not in AREAS:
        raise ValueError(area)
    cfg = current_app.config
    if cfg.get("STORAGE_BACKEND", "local") == "s3":
        from .s3 import S3Store, client_for

        return S3Store(client_for(current_app), cfg["S3_BUCKET"], cfg.get("S3_PREFIX", "") + area + "/", cfg.get("S3_PREFIX", "") + "tmp/")
    from .local import LocalStore

    return LocalStore(Path(cfg["PHOTO_DIR"] if area == "photos" else cfg["ARCHIVE_DIR"]))


def local_store(area: str) -> Store:
    """The local-disk store of an area whatever the backend (the source of `flask storage migrate`)."""
    from .local import LocalStore

    cfg = current_app.config
    return LocalStore(Path(cfg["PHOTO_DIR"] if area == "photos" else cfg["ARCHIVE_DIR"]))


def sweep_all(older_than: timedelta | None = None) -> dict[str, int]:
    """Sweep stale temporaries in every area; the age defaults to STORAGE_TEMP_HOURS."""
    age = older_than if older_than is not None else timedelta(hours=current_app.config.get("STORAGE_TEMP_HOURS", 24))
    out = {}
    for area in AREAS:
        out[area] = get_store(area).sweep(age)
    return out
