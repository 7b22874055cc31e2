"""Properties of generation and verification on random trees.

The generator reads perfect subtrees through `SubtreeHashes`; it is checked against the
RFC 9162 definitions written out literally over lists (MTH, PATH, PROOF/SUBPROOF).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import pytest
from accord_audit.errors import InvalidProof
from accord_audit.merkle import (
    CompactRange,
    InMemoryTree,
    consistency_proof,
    inclusion_proof,
    is_valid_subtree,
    leaf_hash,
    node_hash,
    root_from_leaves,
    root_hash,
    subtree_consistency_proof,
    subtree_hash,
    subtree_inclusion_proof,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)
from hypothesis import given, settings
from hypothesis import strategies as st

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)

entries_strategy = st.lists(st.binary(max_size=12), min_size=1, max_size=70)


def _split(size: int) -> int:
    split = 1
    while split * 2 < size:
        split *= 2
    return split


def rfc_mth(entries: Sequence[bytes]) -> bytes:
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return leaf_hash(entries[0])
    k = _split(len(entries))
    return node_hash(rfc_mth(entries[:k]), rfc_mth(entries[k:]))


def rfc_path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    if len(entries) == 1:
        return []
    k = _split(len(entries))
    if m < k:
        return [*rfc_path(m, entries[:k]), rfc_mth(entries[k:])]
    return [*rfc_path(m - k, entries[k:]), rfc_mth(entries[:k])]


def rfc_subproof(m: int, entries: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if complete else [rfc_mth(entries)]
    k = _split(n)
    if m <= k:
        return [*rfc_subproof(m, entries[:k], complete), rfc_mth(entries[k:])]
    return [*rfc_subproof(m - k, entries[k:], False), rfc_mth(entries[:k])]


def flip_bit(data: bytes, bit: int) -> bytes:
    position = bit % (len(data) * 8)
    changed = bytearray(data)
    changed[position // 8] ^= 1 << (position % 8)
    return bytes(changed)


def _rejected(check: Callable[[], None]) -> bool:
    try:
        check()
    except InvalidProof:
        return True
    return False


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    entries = draw(entries_strategy)
    return entries, draw(st.integers(0, len(entries) - 1))


@st.composite
def tree_and_sizes(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    entries = draw(entries_strategy)
    new_size = draw(st.integers(1, len(entries)))
    return entries, draw(st.integers(1, new_size)), new_size


@st.composite
def tree_and_subtree(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    entries = draw(entries_strategy)
    length = draw(st.integers(1, len(entries)))
    alignment = 1 << (length - 1).bit_length()
    slots = (len(entries) - length) // alignment
    start = draw(st.integers(0, slots)) * alignment
    return entries, start, start + length


@PROPERTY_SETTINGS
@given(entries_strategy)
def test_every_root_matches_the_rfc_definition(entries: list[bytes]) -> None:
    tree = InMemoryTree.from_leaves(entries)
    compact = CompactRange()
    for size in range(len(entries) + 1):
        expected = rfc_mth(entries[:size])
        assert root_hash(tree, size) == expected
        assert compact.root() == expected
        assert CompactRange.load(size, tree).frontier == compact.frontier
        if size < len(entries):
            compact.append(leaf_hash(entries[size]))
    assert root_from_leaves(entries) == rfc_mth(entries)


@PROPERTY_SETTINGS
@given(entries_strategy)
def test_appends_persist_every_perfect_subtree_exactly_once(entries: list[bytes]) -> None:
    compact = CompactRange()
    persisted = {}
    for entry in entries:
        for node in compact.append(leaf_hash(entry)):
            assert (node.level, node.index) not in persisted
            persisted[(node.level, node.index)] = node.hash
    size = len(entries)
    expected = {
        (level, index) for level in range(size.bit_length()) for index in range(size >> level)
    }
    assert set(persisted) == expected
    for (level, index), hashed in persisted.items():
        start = index << level
        assert hashed == rfc_mth(entries[start : start + (1 << level)])


@PROPERTY_SETTINGS
@given(tree_and_index())
def test_inclusion_proofs_match_the_rfc_and_verify(case: tuple[list[bytes], int]) -> None:
    entries, index = case
    tree = InMemoryTree.from_leaves(entries)
    size = len(entries)
    proof = inclusion_proof(tree, index, size)
    assert proof == rfc_path(index, entries)
    verify_inclusion(leaf_hash(entries[index]), index, size, proof, rfc_mth(entries))


@PROPERTY_SETTINGS
@given(tree_and_sizes())
def test_consistency_proofs_match_the_rfc_and_verify(case: tuple[list[bytes], int, int]) -> None:
    entries, old_size, new_size = case
    tree = InMemoryTree.from_leaves(entries)
    proof = consistency_proof(tree, old_size, new_size)
    assert proof == rfc_subproof(old_size, entries[:new_size], True)
    old_root, new_root = rfc_mth(entries[:old_size]), rfc_mth(entries[:new_size])
    verify_consistency(old_size, new_size, proof, old_root, new_root)
    # The draft's subtree algorithm is a generalisation: [0, m) is the old tree.
    verify_subtree_consistency(0, old_size, new_size, proof, old_root, new_root)


@PROPERTY_SETTINGS
@given(tree_and_subtree(), st.data())
def test_subtree_proofs_verify(case: tuple[list[bytes], int, int], data: st.DataObject) -> None:
    entries, start, end = case
    assert is_valid_subtree(start, end)
    tree = InMemoryTree.from_leaves(entries)
    size = len(entries)
    expected_subtree_root = rfc_mth(entries[start:end])
    assert subtree_hash(tree, start, end) == expected_subtree_root
    proof = subtree_consistency_proof(tree, start, end, size)
    verify_subtree_consistency(start, end, size, proof, expected_subtree_root, rfc_mth(entries))
    index = data.draw(st.integers(start, end - 1))
    path = subtree_inclusion_proof(tree, index, start, end)
    verify_subtree_inclusion(
        leaf_hash(entries[index]), index, start, end, path, expected_subtree_root
    )


@PROPERTY_SETTINGS
@given(tree_and_index(), st.integers(min_value=0))
def test_a_changed_entry_breaks_its_inclusion_proof(
    case: tuple[list[bytes], int], bit: int
) -> None:
    entries, index = case
    tree = InMemoryTree.from_leaves(entries)
    size = len(entries)
    proof = inclusion_proof(tree, index, size)
    # An empty entry has no bit to flip; the nearest different entry is one zero byte.
    changed = flip_bit(entries[index], bit) if entries[index] else b"\x00"
    assert changed != entries[index]
    assert _rejected(lambda: verify_inclusion(leaf_hash(changed), index, size, proof, tree.root()))


@PROPERTY_SETTINGS
@given(tree_and_index(), st.data())
def test_a_changed_inclusion_proof_or_root_is_rejected(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    entries, index = case
    tree = InMemoryTree.from_leaves(entries)
    size = len(entries)
    proof = inclusion_proof(tree, index, size)
    leaf, root = leaf_hash(entries[index]), tree.root()
    bit = data.draw(st.integers(0, 255))
    assert _rejected(lambda: verify_inclusion(leaf, index, size, proof, flip_bit(root, bit)))
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        tampered = [*proof]
        tampered[position] = flip_bit(tampered[position], bit)
        assert _rejected(lambda: verify_inclusion(leaf, index, size, tampered, root))
        assert _rejected(lambda: verify_inclusion(leaf, index, size, proof[:-1], root))
    assert _rejected(lambda: verify_inclusion(leaf, index, size, [*proof, root], root))


@PROPERTY_SETTINGS
@given(tree_and_sizes(), st.data())
def test_a_changed_consistency_proof_or_root_is_rejected(
    case: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    entries, old_size, new_size = case
    tree = InMemoryTree.from_leaves(entries)
    proof = consistency_proof(tree, old_size, new_size)
    old_root, new_root = root_hash(tree, old_size), root_hash(tree, new_size)
    bit = data.draw(st.integers(0, 255))
    assert _rejected(
        lambda: verify_consistency(old_size, new_size, proof, flip_bit(old_root, bit), new_root)
    )
    assert _rejected(
        lambda: verify_consistency(old_size, new_size, proof, old_root, flip_bit(new_root, bit))
    )
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        tampered = [*proof]
        tampered[position] = flip_bit(tampered[position], bit)
        assert _rejected(
            lambda: verify_consistency(old_size, new_size, tampered, old_root, new_root)
        )


class CountingHashes:
    """A log of any size without storing it: hashes are derived from their coordinates."""

    def __init__(self) -> None:
        self.reads = 0

    def perfect_subtree_hash(self, level: int, index: int) -> bytes:
        self.reads += 1
        return hashlib.sha256(f"{level}/{index}".encode()).digest()


def _log2_ceiling(size: int) -> int:
    return (size - 1).bit_length()


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2**40), st.data())
def test_proofs_read_a_logarithmic_number_of_hashes(size: int, data: st.DataObject) -> None:
    bound = 2 * _log2_ceiling(size) + 1
    counter = CountingHashes()
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(counter, index, size)
    assert len(proof) <= _log2_ceiling(size)
    assert counter.reads <= bound

    counter.reads = 0
    old_size = data.draw(st.integers(1, size))
    consistency_proof(counter, old_size, size)
    assert counter.reads <= bound

    counter.reads = 0
    root_hash(counter, size)
    assert counter.reads == size.bit_count()

    counter.reads = 0
    CompactRange.load(size, counter).append(b"\x00" * 32)
    assert counter.reads == size.bit_count()


@pytest.mark.parametrize(
    ("start", "end", "valid"),
    [
        (0, 1, True),
        (8, 16, True),
        (4, 7, True),
        (0, 3, True),
        (3, 5, False),
        (2, 6, False),
        (1, 3, False),
        (1, 15, False),
        (1, 1, False),
        (2, 1, False),
    ],
)
def test_valid_subtrees_are_aligned_to_their_rounded_up_size(
    start: int, end: int, valid: bool
) -> None:
    assert is_valid_subtree(start, end) is valid


def test_proof_generation_refuses_impossible_requests() -> None:
    tree = InMemoryTree.from_leaves([b"a", b"b", b"c"])
    with pytest.raises(ValueError):
        inclusion_proof(tree, 3, 3)
    with pytest.raises(ValueError):
        consistency_proof(tree, 0, 3)
    with pytest.raises(ValueError):
        consistency_proof(tree, 3, 2)
    with pytest.raises(ValueError):
        subtree_hash(tree, 1, 3)
    with pytest.raises(ValueError):
        CompactRange(3, [b"\x00" * 32])
