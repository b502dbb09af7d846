"""The file store: photos and month bundles in an S3-compatible bucket (a local moto server over HTTP) or on the local disk.

Uploads are all or nothing (a temporary, its SHA-256 checked, then the real key), stale
temporaries are swept, downloads are streamed from the store, the filed bundles are
checked against what the bucket holds, and `flask storage migrate` moves a local store
into a bucket, resumably.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from server import archive, photos
from server.storage import StorageError, get_store

from .s3server import s3_config, s3_server  # noqa: F401 (fixtures)
from .support.photos import jpeg, put
from .support.records import september, zip_manifest
from .support.ids import new_id


@pytest.fixture
def archives(app, tmp_path):
    app.config["ARCHIVE_DIR"] = str(tmp_path / "archives")


def local_files(root) -> list[Path]:
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_photo_goes_to_the_bucket_and_is_streamed_from_it(app, demo, s3_config, as_role):
    server, bucket = s3_config
    patroller = as_role("patroller")
    data, pid = jpeg(), new_id()
    r = put(patroller, pid, data)
    assert r.status_code == 201, r.get_json()
    # Answered once the original is in the bucket; the photo worker makes the copies, then drops it.
    assert server.keys(bucket) == [f"photos/{pid[:2]}/{pid}.original"]
    assert photos.make_pending_copies() == 1
    assert server.keys(bucket) == [f"photos/{pid[:2]}/{pid}.display.jpg", f"photos/{pid[:2]}/{pid}.thumb.jpg"]
    assert local_files(app.config["PHOTO_DIR"]) == []  # nothing on this node's disk

    held = server.client().get_object(Bucket=bucket, Key=f"photos/{pid[:2]}/{pid}.display.jpg")
    assert held["Metadata"]["sha256"] == hashlib.sha256(stored := held["Body"].read()).hexdigest()
    r = patroller.get(f"/api/photos/{pid}?size=display")
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data == stored
    assert r.headers["Content-Length"] == str(len(stored))
    again = patroller.get(f"/api/photos/{pid}?size=display", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # The same bytes again: 200, and still exactly the two objects, no temporary left.
    assert put(patroller, pid, data).status_code == 200
    assert len(server.keys(bucket)) == 2 and server.keys(bucket, "tmp/") == []


def test_a_sound_clip_goes_to_the_bucket_as_recorded_and_is_played_from_it(app, demo, s3_config, as_role):
    from .sound_files import m4a

    server, bucket = s3_config
    patroller = as_role("patroller")
    data, clip_id = m4a(2.0, fragmented=True), new_id()
    r = put(patroller, clip_id, data, "audio/mp4")
    assert r.status_code == 201, r.get_json()
    assert server.keys(bucket) == [f"photos/{clip_id[:2]}/{clip_id}.sound"] and local_files(app.config["PHOTO_DIR"]) == []
    r = patroller.get(f"/api/photos/{clip_id}")
    assert r.status_code == 200 and r.mimetype == "audio/mp4" and r.data == data


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_a_write_whose_stored_copy_does_not_match_its_hash_never_appears(app, s3_server, tmp_path, backend):
    if backend == "s3":
        bucket = s3_server.new_bucket()
        app.config.update(s3_server.config(bucket))
    store = get_store("photos")
    src = tmp_path / "bytes"
    src.write_bytes(b"the bytes that were sent")
    with pytest.raises(StorageError, match="SHA-256"):
        store.put_file("ab/damaged.jpg", src, sha256="0" * 64)
    assert not store.exists("ab/damaged.jpg")
    assert store.put_file("ab/good.jpg", src) == hashlib.sha256(src.read_bytes()).hexdigest()
    assert list(store.keys()) == ["ab/good.jpg"]
    if backend == "s3":
        assert s3_server.keys(bucket) == ["photos/ab/good.jpg"]  # no temporary left either
    else:
        assert [p.name for p in local_files(app.config["PHOTO_DIR"])] == ["good.jpg"]


def test_sweep_removes_stale_temporaries_and_nothing_else_in_the_bucket(app, s3_config, runner):
    server, bucket = s3_config
    get_store("photos").put("ab/kept.jpg", b"kept")
    # What a node killed between writing its temporary and publishing it leaves behind.
    server.client().put_object(Bucket=bucket, Key="tmp/photos/0f3c-crashed", Body=b"half an upload")
    result = runner.invoke(args=["storage", "sweep"])
    assert result.exit_code == 0 and "photos: removed 0" in result.output  # younger than STORAGE_TEMP_HOURS
    result = runner.invoke(args=["storage", "sweep", "--older-than-hours", "0"])
    assert result.exit_code == 0 and "photos: removed 1 stale temporary" in result.output, result.output
    assert server.keys(bucket) == ["photos/ab/kept.jpg"]


def test_sweep_removes_stale_temporaries_on_the_local_disk(app):
    store = get_store("photos")
    store.put("ab/kept.jpg", b"kept")
    stale = Path(app.config["PHOTO_DIR"]) / "ab" / ".upload-crashed.tmp"
    fresh = Path(app.config["PHOTO_DIR"]) / "ab" / ".upload-running.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    old = time.time() - 3 * 86400
    os.utime(stale, (old, old))
    assert store.sweep(timedelta(hours=24)) == 1
    assert not stale.exists() and fresh.exists() and store.read("ab/kept.jpg") == b"kept"


def test_a_bundle_is_filed_in_the_bucket_and_checked_against_what_the_bucket_holds(app, demo, archives, s3_config, as_role, runner):
    server, bucket = s3_config
    recs = september(demo)
    api = as_role("archivist")
    r = api.post(f"/api/archive/sites/{demo.id}/months/2026-09/seal")
    assert r.status_code == 200, r.get_json()
    key = "archives/DEMO/2026-09/DEMO-2026-09.zip"
    assert key in server.keys(bucket) and server.keys(bucket, "tmp/") == []
    assert local_files(app.config["ARCHIVE_DIR"]) == []
    assert archive.get_row(demo.id, "2026-09").bundle_path == f"s3://{bucket}/{key}"

    r = api.get(f"/api/archive/sites/{demo.id}/months/2026-09/bundle")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    data = r.data
    assert hashlib.sha256(data).hexdigest() == r.headers["X-Content-SHA256"] == archive.get_row(demo.id, "2026-09").bundle_sha256
    manifest, zf, prefix = zip_manifest(data)
    assert f"photos/{recs['photo']}.jpg" in {f["path"] for f in manifest["files"]}  # fetched from the bucket into the zip
    assert archive.verify_zip(io.BytesIO(data)) == []
    result = runner.invoke(args=["archive", "verify"])
    assert result.exit_code == 0 and "DEMO 2026-09: ok" in result.output, result.output
    # The month record on its own, read out of the zip the bucket holds.
    r = api.get(f"/api/archive/sites/{demo.id}/months/2026-09/record.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data == zf.read(prefix + "record.pdf")

    # Someone replaces the object in the bucket: the check reads the bucket, not a record of it.
    server.client().put_object(Bucket=bucket, Key=key, Body=data[:-10] + b"0123456789")
    result = runner.invoke(args=["archive", "verify"])
    assert result.exit_code == 1 and "DEMO-2026-09.zip: changed since it was filed" in result.output
    server.client().delete_object(Bucket=bucket, Key=key)
    result = runner.invoke(args=["archive", "verify"])
    assert result.exit_code == 1 and "DEMO-2026-09.zip: missing" in result.output
    assert api.get(f"/api/archive/sites/{demo.id}/months/2026-09/bundle").status_code == 410


def test_storage_migrate_copies_a_local_store_into_the_bucket_and_resumes(app, demo, archives, s3_server, as_role, runner):
    patroller = as_role("patroller")
    ids = [new_id() for _ in range(3)]
    for pid in ids:
        assert put(patroller, pid, jpeg()).status_code == 201
    assert photos.make_pending_copies() == 3
    bundle = Path(app.config["ARCHIVE_DIR"]) / "DEMO" / "2026-09" / "DEMO-2026-09.zip"
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(b"PK a filed bundle")
    result = runner.invoke(args=["storage", "migrate"])
    assert result.exit_code != 0 and "STORAGE_BACKEND=s3" in result.output

    bucket = s3_server.new_bucket()
    app.config.update(s3_server.config(bucket))
    result = runner.invoke(args=["storage", "migrate"])
    assert result.exit_code == 0, result.output
    assert "photos: copied 6, already there 0" in result.output and "archives: copied 1, already there 0" in result.output
    for path in local_files(app.config["PHOTO_DIR"]):
        key = "photos/" + path.relative_to(app.config["PHOTO_DIR"]).as_posix()
        assert server_bytes(s3_server, bucket, key) == path.read_bytes()

    # Interrupted half-way (one object never made it): the next run copies just that one.
    s3_server.client().delete_object(Bucket=bucket, Key=f"photos/{ids[1][:2]}/{ids[1]}.thumb.jpg")
    result = runner.invoke(args=["storage", "migrate", "--verify"])
    assert result.exit_code == 0 and "photos: copied 1, already there 5" in result.output, result.output

    # The node now reads from the bucket only.
    for path in local_files(app.config["PHOTO_DIR"]):
        path.unlink()
    r = patroller.get(f"/api/photos/{ids[1]}?size=thumb")
    assert r.status_code == 200 and r.data == server_bytes(s3_server, bucket, f"photos/{ids[1][:2]}/{ids[1]}.thumb.jpg")


def server_bytes(server, bucket: str, key: str) -> bytes:
    return server.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def test_health_reports_database_and_storage_reachability(app, client, s3_config):
    r = client.get("/api/health")
    assert r.status_code == 200 and r.get_json() == {"status": "ok", "database": "ok", "storage": "ok", "storage_backend": "s3"}
    app.config["S3_BUCKET"] = "no-such-bucket"
    r = client.get("/api/health")
    assert r.status_code == 503 and r.get_json()["storage"] == "unreachable" and r.get_json()["database"] == "ok"


def test_the_retention_purge_removes_a_months_photos_and_bundle_from_the_bucket(app, demo, archives, s3_config):
    from server import retention

    from .support.retention import NOW, OCT_2024, SEPT_2024, build_month, seal_both

    server, bucket = s3_config
    sept = build_month(demo, SEPT_2024)
    octo = build_month(demo, OCT_2024)
    seal_both(demo)
    keys = set(server.keys(bucket))
    photo = lambda pid, size: f"photos/{pid[:2]}/{pid}.{size}.jpg"  # noqa: E731
    assert {photo(p, s) for p in sept["photos"] + octo["photos"] for s in ("display", "thumb")} <= keys
    assert {"archives/DEMO/2024-09/DEMO-2024-09.zip", "archives/DEMO/2024-10/DEMO-2024-10.zip"} <= keys

    done = retention.purge(apply=True, now=NOW, by_name="test")
    assert [(p["month"], p["action"]) for p in done] == [("2024-09", "purge")]
    left = set(server.keys(bucket))
    assert not {photo(p, s) for p in sept["photos"] for s in ("display", "thumb")} & left
    assert "archives/DEMO/2024-09/DEMO-2024-09.zip" not in left
    assert {photo(p, s) for p in octo["photos"] for s in ("display", "thumb")} | {"archives/DEMO/2024-10/DEMO-2024-10.zip"} <= left


def test_flask_storage_check_names_the_store_and_fails_when_it_cannot_be_reached(app, runner, s3_server):
    result = runner.invoke(args=["storage", "check"])
    assert result.exit_code == 0 and f"photos: local {app.config['PHOTO_DIR']}: ok" in result.output
    bucket = s3_server.new_bucket()
    app.config.update(s3_server.config(bucket))
    result = runner.invoke(args=["storage", "check"])
    assert result.exit_code == 0 and f"archives: s3 s3://{bucket}/archives/: ok" in result.output
    app.config["S3_BUCKET"] = "no-such-bucket"
    result = runner.invoke(args=["storage", "check"])
    assert result.exit_code != 0 and "photos: s3://no-such-bucket/photos/" in result.output


def test_an_upload_while_the_bucket_is_unreachable_is_a_503_and_leaves_the_photo_expected(app, demo, s3_config, as_role):
    from server.extensions import db
    from server.models import Photo

    from .support.phone import Phone

    server, bucket = s3_config
    patroller = as_role("patroller")
    phone = Phone(patroller, demo.id)
    pid = new_id()
    phone.push_ok([phone.visit("F05", fail=(0,), photo_ids=[pid])])
    app.config["S3_BUCKET"] = "no-such-bucket"
    r = put(patroller, pid, jpeg())
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "storage_unavailable" and r.headers["Retry-After"] == "30"
    db.session.expire_all()
    assert db.session.get(Photo, pid).status == "expected"
    app.config["S3_BUCKET"] = bucket
    assert put(patroller, pid, jpeg()).status_code == 201


@pytest.mark.parametrize("how", ["put", "stage"])
def test_a_local_file_s_name_is_on_disk_before_the_store_returns(tmp_path, monkeypatch, how):
    """The bytes are synced, then renamed to the key, then the directory holding the new name
    is synced: only then is the write acknowledged (a power cut after the answer keeps it)."""
    import stat

    from server.storage.local import LocalStore

    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        st = os.fstat(fd)
        events.append(("sync " + ("directory" if stat.S_ISDIR(st.st_mode) else "file"), st.st_ino))
        real_fsync(fd)

    def replace(src, dst):
        real_replace(src, dst)
        events.append(("rename", Path(dst).parent.stat().st_ino))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    store = LocalStore(tmp_path / "photos")
    if how == "put":
        store.put("ab/abcd.original", b"the bytes")
    else:
        staged = store.stage("ab/abcd.original", b"the bytes")
        assert [e for e, _ in events] == ["sync file"]  # staged: synced, not yet named
        staged.publish()
    folder = (tmp_path / "photos" / "ab").stat().st_ino
    assert [e for e, _ in events] == ["sync file", "rename", "sync directory"]
    assert events[1][1] == events[2][1] == folder
    assert (tmp_path / "photos" / "ab" / "abcd.original").read_bytes() == b"the bytes"
