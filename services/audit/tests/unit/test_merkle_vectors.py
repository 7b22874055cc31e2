"""Known answers: the RFC 6962 reference tree and every proof case of transparency-dev/merkle."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from accord_audit.errors import InvalidProof
from accord_audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    InMemoryTree,
    consistency_proof,
    inclusion_proof,
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

# A copy of transparency-dev/merkle's testdata (Apache 2.0; see its README and LICENSE), kept in
# the repository so that a clone anywhere runs every case.
VECTORS = Path(__file__).resolve().parents[1] / "data" / "rfc6962"
# Fail collection loudly rather than silently running zero cases.
assert (VECTORS / "reference-tree.json").is_file(), f"RFC 6962 test vectors missing: {VECTORS}"

REFERENCE: dict[str, Any] = json.loads((VECTORS / "reference-tree.json").read_text())
REFERENCE_ENTRIES = [bytes.fromhex(entry) for entry in REFERENCE["leaf_inputs"]]
REFERENCE_TREE = InMemoryTree.from_leaves(REFERENCE_ENTRIES)
REFERENCE_ROOTS = [bytes.fromhex(root) for root in REFERENCE["root_by_tree_size"]]


def _cases(folder: str) -> list[Any]:
    files = sorted((VECTORS / folder).rglob("*.json"))
    assert files, f"no test vectors under {VECTORS / folder}"
    return [
        pytest.param(json.loads(path.read_text()), id=str(path.relative_to(VECTORS / folder)))
        for path in files
    ]


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _proof(case: dict[str, Any]) -> list[bytes]:
    return [_b64(element) for element in case["proof"] or []]


def _outcome(check: Any) -> bool:
    """True when the verifier accepts."""
    try:
        check()
    except InvalidProof:
        return False
    return True


def _is_reference_root(size: int, root: bytes) -> bool:
    return 0 <= size < len(REFERENCE_ROOTS) and REFERENCE_ROOTS[size] == root


def test_empty_tree_hash_is_sha256_of_nothing() -> None:
    assert bytes.fromhex(REFERENCE["empty_root"]) == EMPTY_ROOT
    assert root_from_leaves([]) == EMPTY_ROOT
    assert root_hash(REFERENCE_TREE, 0) == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT


def test_leaf_hashes_match_the_reference_tree() -> None:
    expected = [bytes.fromhex(hashed) for hashed in REFERENCE["node_hashes_by_level"][0]]
    assert [leaf_hash(entry) for entry in REFERENCE_ENTRIES] == expected


def test_every_node_hash_matches_the_reference_tree() -> None:
    levels = [
        [bytes.fromhex(hashed) for hashed in level] for level in REFERENCE["node_hashes_by_level"]
    ]
    assert REFERENCE_TREE.levels == levels
    for level in range(1, len(levels)):
        for index, parent in enumerate(levels[level]):
            children = levels[level - 1][2 * index : 2 * index + 2]
            assert node_hash(*children) == parent


@pytest.mark.parametrize("size", range(len(REFERENCE_ROOTS)))
def test_root_of_every_reference_prefix(size: int) -> None:
    expected = REFERENCE_ROOTS[size]
    assert root_from_leaves(REFERENCE_ENTRIES[:size]) == expected
    assert root_hash(REFERENCE_TREE, size) == expected
    assert subtree_hash(REFERENCE_TREE, 0, size) == expected
    assert CompactRange.load(size, REFERENCE_TREE).root() == expected


@pytest.mark.parametrize("case", _cases("inclusion"))
def test_inclusion_vector(case: dict[str, Any]) -> None:
    leaf, root, proof = _b64(case["leafHash"]), _b64(case["root"]), _proof(case)
    accepted = _outcome(
        lambda: verify_inclusion(leaf, case["leafIdx"], case["treeSize"], proof, root)
    )
    assert accepted is not case["wantErr"], case["desc"]
    if accepted and _is_reference_root(case["treeSize"], root):
        assert inclusion_proof(REFERENCE_TREE, case["leafIdx"], case["treeSize"]) == proof


@pytest.mark.parametrize("case", _cases("consistency"))
def test_consistency_vector(case: dict[str, Any]) -> None:
    old_root, new_root, proof = _b64(case["root1"]), _b64(case["root2"]), _proof(case)
    old_size, new_size = case["size1"], case["size2"]
    accepted = _outcome(lambda: verify_consistency(old_size, new_size, proof, old_root, new_root))
    assert accepted is not case["wantErr"], case["desc"]
    if accepted and old_size > 0 and _is_reference_root(new_size, new_root):
        assert consistency_proof(REFERENCE_TREE, old_size, new_size) == proof


@pytest.mark.parametrize("case", _cases("subtreeinclusion"))
def test_subtree_inclusion_vector(case: dict[str, Any]) -> None:
    leaf, root, proof = _b64(case["leafHash"]), _b64(case["root"]), _proof(case)
    index, start, end = case["leafIdx"], case["start"], case["end"]
    accepted = _outcome(lambda: verify_subtree_inclusion(leaf, index, start, end, proof, root))
    assert accepted is not case["wantErr"], case["desc"]
    if accepted and start == 0 and _is_reference_root(end, root):
        assert subtree_inclusion_proof(REFERENCE_TREE, index, start, end) == proof


@pytest.mark.parametrize("case", _cases("subtreeconsistency"))
def test_subtree_consistency_vector(case: dict[str, Any]) -> None:
    subtree_root, root, proof = _b64(case["root1"]), _b64(case["root2"]), _proof(case)
    start, end, size = case["start"], case["end"], case["size"]
    accepted = _outcome(
        lambda: verify_subtree_consistency(start, end, size, proof, subtree_root, root)
    )
    assert accepted is not case["wantErr"], case["desc"]
    if accepted and start < end and _is_reference_root(size, root):
        assert subtree_consistency_proof(REFERENCE_TREE, start, end, size) == proof
