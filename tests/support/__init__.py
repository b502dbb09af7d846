"""Test support: the API client, the one `Phone` sync client, data builders and the fault harness (no tests here)."""
