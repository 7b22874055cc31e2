"""Small-cell suppression of a published two-way table with its margins.

A published table is a grid of counts with row totals, column totals and a grand total. Any
count from 1 to 4 (a total too) is withheld (primary suppression). Withholding one cell is not
enough: a row total less the visible cells gives it back, and so can longer combinations of
rows and columns. So more cells are withheld (secondary suppression) until every withheld count
could take another value that fits every published figure.

The reader knows that a withheld count is at least 1 (zeros are shown). A withheld count can
take another value when it lies on a cycle of withheld cells, alternately in a row and in a
column, along which +1 and -1 can be added keeping every total, without any -1 taking a count
below 1. Such a cycle is searched for each withheld cell; a cell without one gets more
neighbours withheld, the cell of the largest count first (large counts absorb a -1), until one
exists or nothing more can be withheld.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

THRESHOLD = 5
# Bounds the search for a cycle through one cell: beyond it the cell is treated as exposed, so
# the answer errs towards withholding more, never less.
SEARCH_BUDGET = 20_000

Cell = tuple[int, int]


@dataclass(frozen=True)
class SuppressedTable:
    """The grid with its margins: `values[i][j]` for i < rows and j < columns are the body,
    index `rows` is the column-total row and index `columns` the row-total column. `hidden`
    holds the withheld positions of that augmented grid."""

    values: tuple[tuple[int, ...], ...]
    hidden: frozenset[Cell]

    @property
    def rows(self) -> int:
        return len(self.values) - 1

    @property
    def columns(self) -> int:
        return len(self.values[0]) - 1

    def shown(self, i: int, j: int) -> int | None:
        return None if (i, j) in self.hidden else self.values[i][j]


def with_margins(body: Sequence[Sequence[int]]) -> list[list[int]]:
    rows = [list(r) for r in body]
    columns = len(rows[0]) if rows else 0
    for r in rows:
        r.append(sum(r))
    total_row = [sum(r[j] for r in rows) for j in range(columns + 1)]
    return [*rows, total_row]


def suppress(body: Sequence[Sequence[int]], threshold: int = THRESHOLD) -> SuppressedTable:
    """Withholds what would single out fewer than `threshold` people, directly or by
    arithmetic on the published figures."""
    if not body or not body[0]:
        return SuppressedTable(tuple(tuple(r) for r in with_margins(body or [[]])), frozenset())
    if any(len(r) != len(body[0]) for r in body):
        raise ValueError("every row of a table has the same number of columns")
    if any(v < 0 for r in body for v in r):
        raise ValueError("counts are never negative")
    grid = with_margins(body)
    hidden = {(i, j) for i, r in enumerate(grid) for j, v in enumerate(r) if 0 < v < threshold}
    while True:
        exposed = next((c for c in sorted(hidden) if not _has_free_cycle(grid, hidden, c)), None)
        if exposed is None:
            break
        extra = _complement(grid, hidden, exposed)
        if extra is None:
            break  # every non-zero count in reach is already withheld
        hidden.add(extra)
    return SuppressedTable(tuple(tuple(r) for r in grid), frozenset(hidden))


def _complement(grid: list[list[int]], hidden: set[Cell], cell: Cell) -> Cell | None:
    """The visible non-zero cell to withhold next for `cell`: in its row or column, the
    largest count first; failing that, anywhere in the table."""
    i, j = cell
    line = [(i, k) for k in range(len(grid[0]))] + [(k, j) for k in range(len(grid))]
    for candidates in (line, [(a, b) for a in range(len(grid)) for b in range(len(grid[0]))]):
        visible = [c for c in candidates if c not in hidden and grid[c[0]][c[1]] > 0]
        if visible:
            return max(visible, key=lambda c: (grid[c[0]][c[1]], c))
    return None


def _sign(grid: list[list[int]], cell: Cell) -> int:
    """The coefficient of a cell in its row's and its column's equation: body cells +1, a
    margin -1, except the grand total which is the margin of two margins."""
    rows, columns = len(grid) - 1, len(grid[0]) - 1
    i, j = cell
    margin = (i == rows) + (j == columns)
    return 1 if margin % 2 == 0 else -1


def _has_free_cycle(grid: list[list[int]], hidden: set[Cell], start: Cell) -> bool:
    """Whether a cycle of withheld cells through `start` lets its count change: each step
    moves along the row, then the column, alternately; a change d at a cell forces -d*s/s'
    at the next cell of the same line (s: the cells' coefficients). The direction is chosen
    so that every cell getting -1 has at least 2."""
    return any(_search(grid, hidden, start, direction) for direction in (1, -1))


def _search(grid: list[list[int]], hidden: set[Cell], start: Cell, direction: int) -> bool:
    budget = [SEARCH_BUDGET]

    def fits(cell: Cell, change: int) -> bool:
        return change > 0 or grid[cell[0]][cell[1]] >= 2

    def walk(cell: Cell, change: int, along_row: bool, path: set[Cell]) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        i, j = cell
        line = (
            [(i, k) for k in range(len(grid[0])) if k != j]
            if along_row
            else [(k, j) for k in range(len(grid)) if k != i]
        )
        for nxt in line:
            if nxt not in hidden:
                continue
            nxt_change = -change * _sign(grid, cell) * _sign(grid, nxt)
            if nxt == start:
                # closing the cycle: the start's change must match what its line forces
                if not along_row and nxt_change == direction:
                    return True
                continue
            if nxt in path or not fits(nxt, nxt_change):
                continue
            path.add(nxt)
            if walk(nxt, nxt_change, not along_row, path):
                return True
            path.discard(nxt)
        return False

    if not fits(start, direction):
        return False
    return walk(start, direction, True, {start})
