"""Configuration from environment variables, with safe defaults (README lists them all)."""

import os
import secrets
from pathlib import Path

# (variable, default, description) — the README configuration table mirrors this list.
SETTINGS = (
    ("DATABASE_URL", "sqlite:///instance/patrol.sqlite3", "SQLAlchemy database URL"),
    ("SECRET_KEY", "(generated into instance/secret_key)", "signs session cookies; required in production"),
    ("PATROL_ENV", "development", "development or production (production demands SECRET_KEY and HTTPS cookies)"),
    ("HOST", "127.0.0.1", "address `make run` listens on"),
    ("PORT", "5000", "port `make run` listens on"),
    ("PHOTO_DIR", "instance/photos", "where photo files are stored"),
    ("DEFAULT_TIMEZONE", "Asia/Shanghai", "timezone of new sites"),
    ("TASK_DUE_DAYS", "7", "days from observation to a repair task's due date (per-site default)"),
    ("RETENTION_MONTHS", "24", "months records are kept after their month ends"),
    ("ARCHIVE_DIR", "instance/archives", "where sealed monthly archive bundles are written"),
    ("ARCHIVE_MIN_FREE_MB", "200", "free space the archive directory must have (beyond the month's photos) before a month is sealed"),
    ("MAX_BODY_MB", "16", "largest request body accepted, in MiB"),
    ("MAX_PHOTO_MB", "12", "largest photo upload accepted, in MiB"),
    ("MAX_IMAGE_PIXELS", "40000000", "largest photo accepted, in pixels"),
    ("PHONE_KEEP_MEDIA_DAYS", "14", "days a phone keeps the full bytes of a photo or sound clip after the server confirmed it (thumbnails stay); sent to phones in /api/meta"),
    ("SYNC_MAX_MUTATIONS", "500", "most mutations accepted in one push"),
    ("SYNC_TOMBSTONE_DAYS", "180", "`flask sync prune` drops deletion records older than this; a phone not synced for longer starts again"),
    ("SESSION_HOURS", "720", "how long a login lasts without use, in hours"),
    ("LOGIN_MAX_FAILURES", "5", "failed logins per user and address before a lock-out"),
    ("LOGIN_LOCKOUT_MINUTES", "15", "lock-out window after too many failed logins"),
    ("CLOCK_SKEW_FLAG_SECONDS", "300", "device clock offset that flags a device"),
    ("CLIENT_ERRORS_PER_USER", "60", "app errors per user a worker process writes to the log in ten minutes (POST /api/client-errors); the rest are counted"),
    ("LABEL_FONT", "(WenQuanYi Micro Hei, installed with the app)", "TrueType font (.ttf/.ttc) with Chinese glyphs, embedded in label and archive PDFs"),
    ("LABEL_FONT_INDEX", "0", "face number inside the LABEL_FONT .ttc file"),
    ("COVERAGE_REPEAT_SCANS", "3", "scans of one checkpoint by one person that look suspicious..."),
    ("COVERAGE_REPEAT_MINUTES", "10", "...when they fall within this many minutes"),
    ("PWA_VERSION", "(hash of the app's files)", "version string of the phone app; a new one makes phones offer an update"),
    ("PUBLIC_URL", "(from the request)", "base URL printed into QR labels, e.g. https://patrol.example.com"),
    ("COMPLAINT_FINE_DAYS", "7", "days back a patrol that marked a complained-of item OK counts for the patrolled-as-fine signal"),
    ("STORAGE_BACKEND", "local", "where photos and month bundles are kept: local (PHOTO_DIR, ARCHIVE_DIR) or s3 (the S3_* settings)"),
    ("S3_ENDPOINT_URL", "(AWS)", "S3-compatible endpoint, e.g. http://minio:9000, https://oss-cn-hangzhou.aliyuncs.com, https://cos.ap-shanghai.myqcloud.com"),
    ("S3_BUCKET", "", "bucket for photos (photos/), bundles (archives/) and upload temporaries (tmp/)"),
    ("S3_REGION", "us-east-1", "the bucket's region"),
    ("S3_ACCESS_KEY_ID", "(boto3's usual sources)", "access key; empty: environment, instance role or ~/.aws as boto3 finds them"),
    ("S3_SECRET_ACCESS_KEY", "(boto3's usual sources)", "secret key"),
    ("S3_ADDRESSING_STYLE", "auto", "path (MinIO, Ceph RGW), virtual (OSS, COS demand it) or auto"),
    ("S3_PREFIX", "", "key prefix inside the bucket, e.g. patrol/ to share a bucket"),
    ("STORAGE_TEMP_HOURS", "24", "`flask storage sweep` removes upload temporaries older than this"),
)


def _instance_path(root: Path) -> Path:
    path = root / "instance"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_key(instance: Path, production: bool) -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if production:
        raise RuntimeError("SECRET_KEY must be set when PATROL_ENV=production")
    # Development: generate once and keep it, so sessions survive restarts.
    keyfile = instance / "secret_key"
    if not keyfile.exists():
        keyfile.write_text(secrets.token_hex(32))
        keyfile.chmod(0o600)
    return keyfile.read_text().strip()


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from exc


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = os.environ.get(name) or default
    if value not in allowed:
        raise RuntimeError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _database_url(root: Path) -> str:
    url = os.environ.get("DATABASE_URL") or "sqlite:///instance/patrol.sqlite3"
    # Relative SQLite paths are relative to the project, not to the working directory.
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = "sqlite:///" + str(root / url[len("sqlite:///"):])
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _dir_setting(root: Path, name: str, default: Path) -> Path:
    path = Path(os.environ.get(name) or default)
    return path if path.is_absolute() else root / path


def from_env(root: Path) -> dict:
    """Build the Flask config mapping from the environment."""
    instance = _instance_path(root)
    production = os.environ.get("PATROL_ENV", "development") == "production"
    photo_dir = Path(os.environ.get("PHOTO_DIR") or instance / "photos")
    if not photo_dir.is_absolute():
        photo_dir = root / photo_dir
    return {
        "PATROL_ENV": "production" if production else "development",
        "SECRET_KEY": _secret_key(instance, production),
        "SQLALCHEMY_DATABASE_URI": _database_url(root),
        "PHOTO_DIR": str(photo_dir),
        "DEFAULT_TIMEZONE": os.environ.get("DEFAULT_TIMEZONE", "Asia/Shanghai"),
        "TASK_DUE_DAYS": _int("TASK_DUE_DAYS", 7),
        "RETENTION_MONTHS": _int("RETENTION_MONTHS", 24),
        "ARCHIVE_DIR": str(_dir_setting(root, "ARCHIVE_DIR", instance / "archives")),
        "ARCHIVE_MIN_FREE_BYTES": _int("ARCHIVE_MIN_FREE_MB", 200) * 1024 * 1024,
        "MAX_CONTENT_LENGTH": _int("MAX_BODY_MB", 16) * 1024 * 1024,
        "MAX_PHOTO_BYTES": _int("MAX_PHOTO_MB", 12) * 1024 * 1024,
        # A sound clip of at most 15 s (server/sounds.py): Opus or AAC at phone bit rates is ~50-250 KiB.
        "MAX_SOUND_BYTES": _int("MAX_SOUND_KB", 1024) * 1024,
        "MAX_IMAGE_PIXELS": _int("MAX_IMAGE_PIXELS", 40_000_000),
        "PHONE_KEEP_MEDIA_DAYS": _int("PHONE_KEEP_MEDIA_DAYS", 14),
        "SYNC_MAX_MUTATIONS": _int("SYNC_MAX_MUTATIONS", 500),
        "SYNC_TOMBSTONE_DAYS": _int("SYNC_TOMBSTONE_DAYS", 180),
        "COMPLAINT_FINE_DAYS": _int("COMPLAINT_FINE_DAYS", 7),
        "SESSION_HOURS": _int("SESSION_HOURS", 720),
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCKOUT_MINUTES": _int("LOGIN_LOCKOUT_MINUTES", 15),
        "CLOCK_SKEW_FLAG_SECONDS": _int("CLOCK_SKEW_FLAG_SECONDS", 300),
        "CLIENT_ERRORS_PER_USER": _int("CLIENT_ERRORS_PER_USER", 60),
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", ""),
        "STORAGE_BACKEND": _choice("STORAGE_BACKEND", ("local", "s3"), "local"),
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL", ""),
        "S3_BUCKET": os.environ.get("S3_BUCKET", ""),
        "S3_REGION": os.environ.get("S3_REGION", "") or "us-east-1",
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID", ""),
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY", ""),
        "S3_ADDRESSING_STYLE": _choice("S3_ADDRESSING_STYLE", ("auto", "path", "virtual"), "auto"),
        "S3_PREFIX": os.environ.get("S3_PREFIX", ""),
        "STORAGE_TEMP_HOURS": _int("STORAGE_TEMP_HOURS", 24),
        # Empty: server/fonts.py uses the font pip installed with the app.
        "LABEL_FONT": os.environ.get("LABEL_FONT", ""),
        "LABEL_FONT_INDEX": _int("LABEL_FONT_INDEX", 0),
        "COVERAGE_REPEAT_SCANS": _int("COVERAGE_REPEAT_SCANS", 3),
        "COVERAGE_REPEAT_MINUTES": _int("COVERAGE_REPEAT_MINUTES", 10),
        "CHECKLIST_DIR": str(root / "checklists"),
        "PASSWORD_HASH_METHOD": "scrypt",
        # Cookies: HttpOnly always; Secure outside development.
        "SESSION_COOKIE_NAME": "patrol_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        # The cookie (it holds only the login's token) is sent again when the login's expiry
        # slides (server/auth.py load_user, at most every 5 minutes), not with every answer;
        # it lasts as long as the login does.
        "SESSION_REFRESH_EACH_REQUEST": False,
        # flask-smorest / OpenAPI.
        "API_TITLE": "Patrol API",
        "API_VERSION": "1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "JSON_SORT_KEYS": False,
    }
