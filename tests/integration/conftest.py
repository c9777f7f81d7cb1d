"""Integration tests: the shared live stack's worker heartbeat is awaited by tests/conftest.py
(`_worker_heartbeat`), for every test that uses the stack."""
