"""Reporting: aggregate figures from integration events, never cases (SPEC section 10)."""
