"""Reporting domain: what is kept of a case to count it, the figures, and small-cell
suppression (no I/O, no framework)."""

from accord_reporting.domain.figures import REGION, Scope, Table, count_all, figures
from accord_reporting.domain.suppression import THRESHOLD, SuppressedTable, suppress
from accord_reporting.domain.tally import CaseTally, tally_id

__all__ = [
    "REGION",
    "THRESHOLD",
    "CaseTally",
    "Scope",
    "SuppressedTable",
    "Table",
    "count_all",
    "figures",
    "suppress",
    "tally_id",
]
