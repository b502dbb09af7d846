"""The demo site that `make run` loads: a tower with every kind of checkpoint and one user per role.

`seed()` commits: it is the whole of `flask seed-demo`, and tests and benchmarks run it
as-is to load the same site.
"""

from __future__ import annotations

from sqlalchemy import select

from . import choices as C
from .accounts import create_user, grant
from .extensions import db
from .models import Checkpoint, Site, User
from .sites import create_checkpoint, create_site

DEMO_PASSWORD = "patrol-demo"
DEMO_SITE = "DEMO"


def demo_checkpoints() -> list[dict]:
    """Every place of the demo tower, in walking order."""
    out = []

    def add(kind, code, zh, en, floor=""):
        out.append({"kind": kind, "short_code": code, "name_zh": zh, "name_en": en, "floor": floor, "building": "A座"})

    add(C.KIND_LOBBY, "LOBBY", "一楼大堂", "Ground-floor lobby", "1")
    for level in ("B1", "B2"):
        add(C.KIND_CAR_PARK, f"P{level}", f"地下停车库 {level}", f"Car park {level}", level)
    for n in range(1, 11):
        add(C.KIND_FLOOR, f"F{n:02d}", f"{n}楼", f"Floor {n}", str(n))
    for n in (1, 2):
        add(C.KIND_ELEVATOR_CAR, f"EL{n}", f"{n}号电梯轿厢", f"Elevator car {n}")
    add(C.KIND_OUTDOOR_PLAZA, "PLAZA", "外围广场", "Outdoor plaza", "1")
    add(C.KIND_VACANT_UNIT, "U0801", "空置房 8楼01室", "Vacant unit 8-01", "8")
    add(C.KIND_VACANT_UNIT, "U1003", "空置房 10楼03室", "Vacant unit 10-03", "10")
    for pos, cp in enumerate(out):
        cp["position"] = pos * 10
        if cp["kind"] == C.KIND_VACANT_UNIT:
            cp["unit"] = cp["short_code"][1:]
    return out


def seed() -> tuple[Site, bool]:
    """Create whatever of the demo site is missing (idempotent); returns (site, created)."""
    site = db.session.execute(select(Site).where(Site.code == DEMO_SITE)).scalar_one_or_none()
    created = site is None
    if created:
        site = create_site(DEMO_SITE, "演示大厦", "Demo Tower")
    existing = set(db.session.execute(select(Checkpoint.short_code).where(Checkpoint.site_id == site.id)).scalars())
    for cp in demo_checkpoints():
        if cp["short_code"] not in existing:
            create_checkpoint(site.id, **cp)
    for role in C.ROLES:
        user = db.session.execute(select(User).where(User.username == role)).scalar_one_or_none()
        if user is None:
            user = create_user(role, DEMO_PASSWORD, f"演示{_ROLE_ZH[role]} Demo {role}")
        grant(user, site.id, role)
    db.session.commit()
    return site, created


_ROLE_ZH = {C.PATROLLER: "巡查员", C.SUPERVISOR: "主管", C.MANAGER: "经理", C.ARCHIVIST: "档案员", C.ADMIN: "管理员", C.RECEPTIONIST: "客服助理"}
