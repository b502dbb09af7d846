"""The local-disk store: files under one folder, written to a temporary name and moved into place."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, Iterator

from . import MissingObject, Staged, StorageError, Store, _check_key, sha256_file

TEMP_PREFIX = ".upload-"
TEMP_SUFFIX = ".tmp"


def sync_dir(directory: Path) -> None:
    """Make a rename into `directory` durable. A file's name lives in its directory, not in the
    file: fsync of the file keeps its bytes, and only fsync of the directory keeps the name a
    rename gave it. Without it a power cut after the answer could leave a synced file under
    its temporary name and none under its key, which the database already says is there."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore(Store):
    backend = "local"

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def _temp_beside(self, path: Path) -> tuple[int, Path]:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=path.parent)
        return fd, Path(tmp)

    def _commit(self, tmp: Path, final: Path, expected: str) -> str:
        # Hash what the disk holds (not what we meant to write) before the name appears.
        got = sha256_file(tmp)
        if got != expected:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"{final.name}: the written file does not match its SHA-256")
        os.replace(tmp, final)
        sync_dir(final.parent)
        return got

    def stage(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> Staged:
        final = self._path(key)
        expected = hashlib.sha256(data).hexdigest()
        fd, tmp = self._temp_beside(final)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if sha256_file(tmp) != expected:  # what the disk holds, as put checks it
                raise StorageError(f"{final.name}: the written file does not match its SHA-256")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

        def publish() -> str:
            os.replace(tmp, final)  # the name appears at once, on a file already synced and checked
            sync_dir(final.parent)
            return expected

        return Staged(publish, lambda: tmp.unlink(missing_ok=True))

    def put_file(self, key: str, path: Path, sha256: str | None = None, content_type: str = "application/octet-stream") -> str:
        final = self._path(key)
        expected = sha256 or sha256_file(path)
        fd, tmp = self._temp_beside(final)
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            return self._commit(tmp, final, expected)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        try:
            fh = open(self._path(key), "rb")
        except FileNotFoundError:
            raise MissingObject(key) from None
        with fh:
            yield fh

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise MissingObject(key) from None

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
            return True
        except FileNotFoundError:
            return False

    def keys(self, prefix: str = "") -> Iterator[str]:
        if not self.root.is_dir():
            return
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(TEMP_PREFIX):
                    continue
                key = (Path(dirpath) / name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    def sweep(self, older_than: timedelta) -> int:
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        for path in self.root.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root} is not writable")

    def describe(self) -> str:
        return str(self.root)
