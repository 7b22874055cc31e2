"""Small-cell suppression against two attackers who know every published figure, that zeros
are shown, and so that a withheld count is at least 1: one solves the published equations
exactly (totals less visible cells, and any linear combination of rows and columns), the other
narrows each withheld count's bounds row by row and column by column until nothing moves.
Neither may pin down a withheld count."""

from __future__ import annotations

from fractions import Fraction

from accord_reporting.domain import THRESHOLD, SuppressedTable, suppress
from hypothesis import given, settings
from hypothesis import strategies as st

Equation = tuple[dict[tuple[int, int], int], int]

counts = st.one_of(st.integers(0, 6), st.integers(0, 40))
tables = st.integers(1, 5).flatmap(
    lambda columns: st.lists(
        st.lists(counts, min_size=columns, max_size=columns), min_size=1, max_size=6
    )
)


def equations(table: SuppressedTable) -> list[Equation]:
    """Each row and column of the grid with its margins: the body cells sum to the margin,
    with the visible figures moved to the right-hand side."""
    rows, columns = table.rows, table.columns
    lines = [[(i, j) for j in range(columns + 1)] for i in range(rows + 1)]
    lines += [[(i, j) for i in range(rows + 1)] for j in range(columns + 1)]
    out: list[Equation] = []
    for line in lines:
        total = line[-1]
        terms: dict[tuple[int, int], int] = {}
        constant = 0
        for cell in line:
            sign = -1 if cell == total else 1
            shown = table.shown(*cell)
            if shown is None:
                terms[cell] = sign
            else:
                constant -= sign * shown
        if terms:
            out.append((terms, constant))
    return out


def solved_exactly(table: SuppressedTable) -> set[tuple[int, int]]:
    """Withheld cells whose value follows from the equations alone (Gaussian elimination over
    the rationals: a cell is determined when its unit vector lies in the equations' span)."""
    unknowns = sorted(table.hidden)
    index = {c: k for k, c in enumerate(unknowns)}
    matrix = [[Fraction(0)] * len(unknowns) for _ in equations(table)]
    for r, (terms, _) in enumerate(equations(table)):
        for cell, coefficient in terms.items():
            matrix[r][index[cell]] = Fraction(coefficient)
    reduced, _pivots = _rref(matrix)
    determined = set()
    for k, cell in enumerate(unknowns):
        # e_k is in the row space iff some reduced row equals e_k
        if any(row[k] == 1 and sum(1 for v in row if v != 0) == 1 for row in reduced):
            determined.add(cell)
    return determined


def _rref(matrix: list[list[Fraction]]) -> tuple[list[list[Fraction]], list[int]]:
    rows = [r[:] for r in matrix]
    pivots: list[int] = []
    r = 0
    width = len(rows[0]) if rows else 0
    for c in range(width):
        pivot = next((k for k in range(r, len(rows)) if rows[k][c] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        lead = rows[r][c]
        rows[r] = [v / lead for v in rows[r]]
        for k in range(len(rows)):
            if k != r and rows[k][c] != 0:
                factor = rows[k][c]
                rows[k] = [a - factor * b for a, b in zip(rows[k], rows[r], strict=True)]
        pivots.append(c)
        r += 1
    return rows[:r], pivots


def narrowed(table: SuppressedTable) -> set[tuple[int, int]]:
    """Withheld cells whose bounds meet after propagating every equation to a fixpoint,
    starting from 'at least 1, at most the grand total or more'."""
    big = sum(sum(r) for r in table.values) + 1
    low = dict.fromkeys(table.hidden, 1)
    high = dict.fromkeys(table.hidden, big)
    eqs = equations(table)
    for _ in range(200):
        moved = False
        for terms, constant in eqs:
            for cell, a in terms.items():
                # a*x = constant - sum(others): bound the others' sum, then x
                rest_low = sum(
                    b * (low[o] if b > 0 else high[o]) for o, b in terms.items() if o != cell
                )
                rest_high = sum(
                    b * (high[o] if b > 0 else low[o]) for o, b in terms.items() if o != cell
                )
                lo, hi = sorted(((constant - rest_high) * a, (constant - rest_low) * a))
                if lo > low[cell]:
                    low[cell], moved = lo, True
                if hi < high[cell]:
                    high[cell], moved = hi, True
        if not moved:
            break
    return {c for c in table.hidden if low[c] == high[c]}


@settings(max_examples=300, deadline=None)
@given(tables)
def test_no_withheld_count_can_be_recovered(body: list[list[int]]) -> None:
    table = suppress(body)
    grid = table.values
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if 0 < value < THRESHOLD:
                assert (i, j) in table.hidden, f"small count {value} at {(i, j)} published"
            if value == 0:
                assert (i, j) not in table.hidden
    assert solved_exactly(table) == set()
    assert narrowed(table) == set()


def test_the_margins_are_the_sums_of_the_counts() -> None:
    table = suppress([[7, 2], [9, 12]])
    assert table.values == ((7, 2, 9), (9, 12, 21), (16, 14, 30))
    assert (0, 1) in table.hidden
    # one withheld cell in a row would be given back by its total: a second one goes too
    assert sum(1 for j in range(3) if (0, j) in table.hidden) >= 2


def test_a_table_of_large_counts_is_published_whole() -> None:
    assert suppress([[10, 20], [30, 40]]).hidden == frozenset()


def test_a_single_small_count_withholds_all_that_would_give_it_back() -> None:
    table = suppress([[3]])
    assert table.hidden == {(0, 0), (0, 1), (1, 0), (1, 1)}
