"""RFC 6962 / RFC 9162 Merkle tree hashing, proof generation and proof verification.

Proof generation reads hashes through `SubtreeHashes`, which only ever hands out the hash
of a *perfect* subtree (2^level leaves, aligned). Every range the RFC recursions need is
decomposed into at most log2(n) such subtrees, so a proof costs O(log n) stored reads
however large the log grows.

Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) step by
step. Subtree proofs (draft-ietf-plants-merkle-tree-certs, formerly
draft-davidben-tls-merkle-tree-certs) generalise both and are verified by that draft's
algorithm, which lets the test vectors for them run against the same hash functions.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from accord_audit.errors import InvalidProof

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    compact = CompactRange()
    for hashed in hashes:
        compact.append(hashed)
    return compact.root()


def root_from_leaves(entries: Iterable[bytes]) -> bytes:
    """MTH(D[n]) of raw entries; streams, so memory stays O(log n)."""
    return root_from_leaf_hashes(leaf_hash(entry) for entry in entries)


class SubtreeHashes(Protocol):
    def perfect_subtree_hash(self, level: int, index: int) -> bytes:
        """Hash of the subtree over leaves [index * 2**level, (index + 1) * 2**level)."""
        ...


@dataclass(frozen=True, slots=True)
class SubtreeNode:
    """A perfect subtree's hash as it is persisted: (level, index) -> hash."""

    level: int
    index: int
    hash: bytes


def _largest_power_of_two_below(size: int) -> int:
    return 1 << ((size - 1).bit_length() - 1)


def _bit_ceil(size: int) -> int:
    return 1 << (size - 1).bit_length()


def is_valid_subtree(start: int, end: int) -> bool:
    """True when [start, end) is a node of the RFC tree shape of any tree containing it.

    Those are exactly the non-empty ranges whose start is a multiple of the next power of
    two at or above their size.
    """
    return 0 <= start < end and start % _bit_ceil(end - start) == 0


def _perfect_decomposition(start: int, end: int) -> list[tuple[int, int]]:
    """(level, index) of the perfect subtrees that make up a valid subtree, left to right."""
    size = end - start
    coordinates: list[tuple[int, int]] = []
    offset = start
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            coordinates.append((level, offset >> level))
            offset += 1 << level
    return coordinates


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    # The RFC splits at the largest power of two, so a range is its perfect parts joined
    # from the right: node(p1, node(p2, ... node(p_k-1, p_k))).
    if not hashes:
        return EMPTY_ROOT
    folded = hashes[-1]
    for left in reversed(hashes[:-1]):
        folded = node_hash(left, folded)
    return folded


class CompactRange:
    """The perfect subtrees on the right edge of a tree of `size` leaves.

    That is all an appender needs: appending leaf n merges the trailing perfect subtrees
    whose sizes match, and each merge is a new node to persist.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        if size < 0:
            raise ValueError("tree size cannot be negative")
        if len(frontier) != size.bit_count():
            raise ValueError(
                f"a tree of {size} leaves has {size.bit_count()} frontier hashes, "
                f"got {len(frontier)}"
            )
        self._size = size
        self._frontier = list(frontier)

    @staticmethod
    def frontier_coordinates(size: int) -> list[tuple[int, int]]:
        """(level, index) of the frontier of a tree of `size` leaves, largest first."""
        return _perfect_decomposition(0, size)

    @classmethod
    def load(cls, size: int, source: SubtreeHashes) -> CompactRange:
        hashes = [
            source.perfect_subtree_hash(level, index)
            for level, index in cls.frontier_coordinates(size)
        ]
        return cls(size, hashes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        return tuple(self._frontier)

    def append(self, leaf: bytes) -> list[SubtreeNode]:
        """Add a leaf hash; return every perfect subtree node it completes, leaf first."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, got {len(leaf)}")
        index = self._size
        current = leaf
        level = 0
        completed = [SubtreeNode(0, index, leaf)]
        while index & 1:
            current = node_hash(self._frontier.pop(), current)
            level += 1
            index >>= 1
            completed.append(SubtreeNode(level, index, current))
        self._frontier.append(current)
        self._size += 1
        return completed

    def root(self) -> bytes:
        return _fold_right(self._frontier)


class InMemoryTree:
    """Every perfect subtree hash, one list per level; the reference `SubtreeHashes`."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]
        self._compact = CompactRange()

    @classmethod
    def from_leaves(cls, entries: Iterable[bytes]) -> InMemoryTree:
        tree = cls()
        for entry in entries:
            tree.append(entry)
        return tree

    @property
    def size(self) -> int:
        return self._compact.size

    def append(self, entry: bytes) -> list[SubtreeNode]:
        return self.append_leaf_hash(leaf_hash(entry))

    def append_leaf_hash(self, leaf: bytes) -> list[SubtreeNode]:
        completed = self._compact.append(leaf)
        for node in completed:
            if node.level == len(self.levels):
                self.levels.append([])
            self.levels[node.level].append(node.hash)
        return completed

    def perfect_subtree_hash(self, level: int, index: int) -> bytes:
        if level >= len(self.levels) or not 0 <= index < len(self.levels[level]):
            raise KeyError((level, index))
        return self.levels[level][index]

    def root(self) -> bytes:
        return self._compact.root()


def subtree_hash(source: SubtreeHashes, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a valid subtree, from at most log2(end - start) + 1 reads."""
    if start == end:
        return EMPTY_ROOT
    if not is_valid_subtree(start, end):
        raise ValueError(f"[{start}, {end}) is not a subtree of the Merkle tree")
    return _fold_right(
        [
            source.perfect_subtree_hash(level, index)
            for level, index in _perfect_decomposition(start, end)
        ]
    )


def root_hash(source: SubtreeHashes, size: int) -> bytes:
    if size < 0:
        raise ValueError("tree size cannot be negative")
    return subtree_hash(source, 0, size)


def _inclusion_path(source: SubtreeHashes, index: int, low: int, high: int) -> list[bytes]:
    # PATH(m, D[n]) of RFC 9162 §2.1.3.1, unrolled top-down over absolute leaf ranges.
    # Only the first right-hand sibling can be an imperfect range; below it every range is
    # perfect, which is what keeps the reads logarithmic.
    siblings: list[bytes] = []
    while high - low > 1:
        middle = low + _largest_power_of_two_below(high - low)
        if index < middle:
            siblings.append(subtree_hash(source, middle, high))
            high = middle
        else:
            siblings.append(subtree_hash(source, low, middle))
            low = middle
    siblings.reverse()
    return siblings


def _consistency_path(
    source: SubtreeHashes, start: int, end: int, low: int, high: int
) -> list[bytes]:
    # SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1 generalised to a subtree [start, end) of
    # [low, high): `known` is b, true while the old range is still a node the verifier
    # already holds the hash of.
    known = True
    path: list[bytes] = []
    while not (start == low and end == high):
        middle = low + _largest_power_of_two_below(high - low)
        if end <= middle:
            path.append(subtree_hash(source, middle, high))
            high = middle
        elif start >= middle:
            path.append(subtree_hash(source, low, middle))
            low = middle
        else:
            # A valid subtree that straddles the split starts at `low`; its left part is
            # the perfect [low, middle) and the search continues in the right part.
            path.append(subtree_hash(source, low, middle))
            low = start = middle
            known = False
    if not known:
        path.append(subtree_hash(source, low, high))
    path.reverse()
    return path


def inclusion_proof(source: SubtreeHashes, index: int, size: int) -> list[bytes]:
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    return _inclusion_path(source, index, 0, size)


def consistency_proof(source: SubtreeHashes, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(m, D[n]); defined by RFC 9162 for 0 < m <= n (empty when m == n)."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    return _consistency_path(source, 0, old_size, 0, new_size)


def subtree_inclusion_proof(source: SubtreeHashes, index: int, start: int, end: int) -> list[bytes]:
    if not is_valid_subtree(start, end) or not start <= index < end:
        raise ValueError(f"leaf {index} is not in a subtree [{start}, {end})")
    return _inclusion_path(source, index, start, end)


def subtree_consistency_proof(
    source: SubtreeHashes, start: int, end: int, size: int
) -> list[bytes]:
    if not is_valid_subtree(start, end) or end > size:
        raise ValueError(f"[{start}, {end}) is not a subtree of a tree of {size} leaves")
    return _consistency_path(source, start, end, 0, size)


def _same(left: bytes, right: bytes) -> bool:
    return hmac.compare_digest(left, right)


def _require_hash_sized(proof: Sequence[bytes]) -> None:
    for position, element in enumerate(proof):
        if len(element) != HASH_SIZE:
            raise InvalidProof(
                f"proof element {position} has {len(element)} bytes, not {HASH_SIZE}",
                position=position,
            )


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root a valid proof leads to, or `InvalidProof`."""
    if not 0 <= index < size:
        raise InvalidProof(f"leaf index {index} is outside a tree of {size} leaves")
    if len(leaf) != HASH_SIZE:
        raise InvalidProof(f"leaf hash has {len(leaf)} bytes, not {HASH_SIZE}")
    _require_hash_sized(proof)
    fn, sn, computed = index, size - 1, leaf
    for element in proof:
        if sn == 0:
            raise InvalidProof("proof is longer than the path from the leaf to the root")
        if fn & 1 or fn == sn:
            computed = node_hash(element, computed)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            computed = node_hash(computed, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("proof is shorter than the path from the leaf to the root")
    return computed


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    if not _same(root_from_inclusion_proof(leaf, index, size, proof), root):
        raise InvalidProof("inclusion proof does not lead to the given root")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2, plus the cases the RFC leaves to the caller."""
    if old_size < 0 or new_size < old_size:
        raise InvalidProof(f"a tree cannot shrink from {old_size} to {new_size} leaves")
    if old_size == new_size:
        if proof:
            raise InvalidProof("a tree is consistent with itself by an empty proof only")
        if not _same(old_root, new_root):
            raise InvalidProof("two roots for the same tree size differ")
        if old_size == 0 and not _same(old_root, EMPTY_ROOT):
            raise InvalidProof("the root of the empty tree is SHA-256 of nothing")
        return
    if old_size == 0:
        # RFC 9162 defines PROOF(m, D[n]) for 0 < m only; accepting "anything is
        # consistent with nothing" would let a bogus root pass as verified.
        raise InvalidProof("no consistency proof exists from the empty tree")
    if not proof:
        raise InvalidProof("consistency proof is empty")
    _require_hash_sized(proof)
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for element in path[1:]:
        if sn == 0:
            raise InvalidProof("proof is longer than the path to the new root")
        if fn & 1 or fn == sn:
            first = node_hash(element, first)
            second = node_hash(element, second)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("proof is shorter than the path to the new root")
    if not _same(first, old_root):
        raise InvalidProof("consistency proof does not lead to the old root")
    if not _same(second, new_root):
        raise InvalidProof("consistency proof does not lead to the new root")


def root_from_subtree_consistency_proof(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes
) -> bytes:
    """The subtree-consistency evaluation of draft-ietf-plants-merkle-tree-certs.

    fn, sn and tn walk from the subtree's first leaf, its last leaf and the tree's last
    leaf up to the root; each proof element moves all three one level up.
    """
    if not is_valid_subtree(start, end) or end > size:
        raise InvalidProof(f"[{start}, {end}) is not a subtree of a tree of {size} leaves")
    _require_hash_sized(proof)
    fn, sn, tn = start, end - 1, size - 1
    if sn == tn:
        while fn != sn:
            fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    else:
        while fn != sn and sn & 1:
            fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    remaining = list(proof)
    if fn == sn:
        # The subtree is itself a node of the tree, so the proof omits its hash.
        first = second = subtree_root
    else:
        if not remaining:
            raise InvalidProof("consistency proof is empty")
        first = second = remaining.pop(0)
    for element in remaining:
        if tn == 0:
            raise InvalidProof("proof is longer than the path to the root")
        if sn & 1 or sn == tn:
            if fn < sn:
                first = node_hash(element, first)
            second = node_hash(element, second)
            while not sn & 1:
                fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
        else:
            second = node_hash(second, element)
        fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    if tn != 0:
        raise InvalidProof("proof is shorter than the path to the root")
    if not _same(first, subtree_root):
        raise InvalidProof("consistency proof does not lead to the subtree's hash")
    return second


def verify_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes, root: bytes
) -> None:
    if start == end:
        # An empty range is in every tree; only its own hash can be wrong.
        if not 0 <= end <= size:
            raise InvalidProof(f"[{start}, {end}) lies outside a tree of {size} leaves")
        if proof:
            raise InvalidProof("an empty subtree needs an empty proof")
        if not _same(subtree_root, EMPTY_ROOT):
            raise InvalidProof("the hash of an empty subtree is SHA-256 of nothing")
        return
    computed = root_from_subtree_consistency_proof(start, end, size, proof, subtree_root)
    if not _same(computed, root):
        raise InvalidProof("consistency proof does not lead to the given root")


def verify_subtree_inclusion(
    leaf: bytes, index: int, start: int, end: int, proof: Sequence[bytes], subtree_root: bytes
) -> None:
    if not is_valid_subtree(start, end):
        raise InvalidProof(f"[{start}, {end}) is not a subtree of the Merkle tree")
    if not start <= index < end:
        raise InvalidProof(f"leaf {index} is outside the subtree [{start}, {end})")
    # A subtree is a Merkle tree in its own right once its leaves are renumbered from 0.
    computed = root_from_inclusion_proof(leaf, index - start, end - start, proof)
    if not _same(computed, subtree_root):
        raise InvalidProof("inclusion proof does not lead to the subtree's hash")
