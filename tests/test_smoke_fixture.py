def test_demo_users_log_in(as_role):
    for role in ("patroller", "supervisor", "manager", "archivist", "admin"):
        c = as_role(role)
        assert role in c.me["sites"][0]["roles"]
