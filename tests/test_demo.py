"""The demo site that `make run` loads."""

from collections import Counter

from sqlalchemy import func, select

from server.demo import seed
from server.extensions import db
from server.models import Checkpoint, Department, Membership, User


def test_demo_has_every_kind_of_checkpoint_of_the_tower(demo):
    rows = db.session.execute(select(Checkpoint).where(Checkpoint.site_id == demo.id)).scalars().all()
    kinds = Counter(cp.kind for cp in rows)
    assert kinds == {"floor": 10, "car_park": 2, "elevator_car": 2, "lobby": 1, "outdoor_plaza": 1, "vacant_unit": 2}
    assert {cp.floor for cp in rows if cp.kind == "car_park"} == {"B1", "B2"}
    assert {cp.floor for cp in rows if cp.kind == "floor"} == {str(n) for n in range(1, 11)}
    assert len({cp.token for cp in rows}) == len(rows)
    assert all(len(cp.token) >= 24 for cp in rows)


def test_demo_has_departments_and_one_user_per_role(demo):
    depts = set(db.session.execute(select(Department.code).where(Department.site_id == demo.id)).scalars())
    assert depts == {"engineering", "cleaning", "security", "landscaping", "customer_service"}
    roles = dict(db.session.execute(select(User.username, Membership.role).join(Membership)).all())
    assert roles == {r: r for r in ("patroller", "supervisor", "manager", "archivist", "admin", "receptionist")}


def test_seeding_twice_changes_nothing(demo):
    def counts():
        return [db.session.execute(select(func.count()).select_from(m)).scalar() for m in (Checkpoint, Department, User, Membership)]

    before = counts()
    _, created = seed()
    assert created is False
    assert counts() == before
