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


def seed_complaints(site: Site) -> int:
    """A few complaints in each state for the demo site (only when it has none yet); returns how many were made.

    `flask seed-demo` adds them; the test fixture `demo` (which calls `seed()` alone) does not,
    so tests start from an empty complaint book.
    """
    from datetime import timedelta

    from . import complaints
    from .models import Complaint, Department, utcnow

    if db.session.execute(select(Complaint.id).where(Complaint.site_id == site.id).limit(1)).first():
        return 0
    person = lambda name: db.session.execute(select(User).where(User.username == name)).scalar_one()
    rec, sup, pat = person(C.RECEPTIONIST), person(C.SUPERVISOR), person(C.PATROLLER)
    cps = {cp.short_code: cp.id for cp in db.session.execute(select(Checkpoint).where(Checkpoint.site_id == site.id)).scalars()}
    eng = db.session.execute(select(Department.id).where(Department.site_id == site.id, Department.code == C.DEPT_ENGINEERING)).scalar()
    now = utcnow()
    samples = [
        # (how far it goes, channel, complainant, unit, place, item, kind, content, hours ago)
        ("received", C.CHANNEL_PHONE, "王女士", "8-01", "F08", "floor.lights_doors_windows", C.COMPLAINT_ORDINARY, "8楼电梯厅灯不亮，晚上看不清。", 2),
        ("received", C.CHANNEL_VISIT, "李先生", "12-03", "EL1", None, C.COMPLAINT_SPECIAL, "1号电梯运行时有异响并突然停顿，老人不敢坐。", 1),
        ("invalid", C.CHANNEL_LETTER, "赵先生", "5-02", None, None, C.COMPLAINT_ORDINARY, "要求物业负责维修户内自购热水器。", 30),
        ("assigned", C.CHANNEL_PHONE, "陈女士", "3-01", "F03", None, C.COMPLAINT_ORDINARY, "3楼楼道有装修垃圾堆放两天未清。", 5),
        ("proposed", C.CHANNEL_OTHER, "孙先生", "", "PLAZA", None, C.COMPLAINT_ORDINARY, "外围广场喷泉周边地砖松动。", 28),
        ("replied", C.CHANNEL_LETTER, "周女士", "10-03", "F10", None, C.COMPLAINT_ORDINARY, "10楼消防通道门闭门器损坏，门关不上。", 50),
        ("closed", C.CHANNEL_PHONE, "吴先生", "2-02", "PB1", None, C.COMPLAINT_ORDINARY, "地下车库B1照明有几处不亮。", 120),
    ]
    for goal, channel, who, unit, place, item, kind, content, hours in samples:
        c, _ = complaints.receive(site, actor=rec, channel=channel, complainant=who, unit=unit, checkpoint_id=cps.get(place), item_id=item,
                                  kind=kind, content=content, received_at=now - timedelta(hours=hours))
        if goal == "received":
            continue
        if goal == "invalid":
            complaints.judge(c, actor=rec, valid=False, reason="热水器属业主户内自有设备，不在物业服务合同范围内；可推荐厂家售后。")
            continue
        complaints.judge(c, actor=rec, valid=True, department_id=eng if place in ("PLAZA", "F10", "PB1") else None)
        complaints.assign(c, actor=sup, handler_id=pat.id)
        if goal == "assigned":
            continue
        complaints.start(c, actor=pat)
        complaints.propose(c, actor=pat, cause="巡查发现不及时，设施老化。", solution="工程部三日内更换并复查。")
        if goal == "proposed":
            continue
        complaints.approve(c, actor=sup, approve=True)
        complaints.accept(c, actor=rec, signed_by=who)
        complaints.reply(c, actor=rec, text=f"{who}您好：\n您反映的问题已处理完毕，感谢您对物业工作的支持。")
        if goal == "closed":
            complaints.record_return_visit(c, actor=rec, result=C.SATISFIED, notes="业主表示满意。")
    db.session.commit()
    return len(samples)
