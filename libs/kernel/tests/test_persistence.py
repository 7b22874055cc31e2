"""How the services reach PostgreSQL: the compiled driver, and the connection settings."""

from __future__ import annotations

import psycopg


def test_psycopg_uses_its_compiled_libpq_binding() -> None:
    # The pure-Python binding spent over half of a referral's CPU (issue 18): a lock file
    # that loses psycopg[binary] would silently bring that back.
    assert psycopg.pq.__impl__ in {"binary", "c"}
