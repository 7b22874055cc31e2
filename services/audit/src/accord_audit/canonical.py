"""Canonical JSON (RFC 8785, JCS) of audit records: the bytes that become Merkle leaves.

One record has exactly one encoding, so anyone holding the record can recompute its leaf
hash without knowing how the log happened to serialise it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import rfc8785

from accord_audit.errors import InvalidRecord


def canonical_json(record: Mapping[str, Any]) -> bytes:
    if not isinstance(record, Mapping):
        raise InvalidRecord("an audit record is a JSON object")
    try:
        return rfc8785.dumps(dict(record))
    except rfc8785.CanonicalizationError as error:
        raise InvalidRecord(f"audit record is not canonical-JSON encodable: {error}") from error


_SAFE_INTEGER = 2**53


def _ijson_number(literal: str) -> int | float:
    # JCS numbers are IEEE doubles: a float like 1e16 is written "10000000000000000",
    # which must read back as that double, not as an integer outside the safe range.
    number = int(literal)
    return number if -_SAFE_INTEGER < number < _SAFE_INTEGER else float(number)


def parse_canonical(body: bytes) -> dict[str, Any]:
    """Decode a stored body, refusing anything that is not already in canonical form.

    A body that decodes but re-encodes differently (key order, whitespace, duplicate keys,
    `1.0` for `1`) was not written by this log.
    """
    try:
        record = json.loads(body.decode("utf-8"), parse_int=_ijson_number)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidRecord(f"stored body is not JSON: {error}") from error
    if not isinstance(record, dict):
        raise InvalidRecord("stored body is not a JSON object")
    if canonical_json(record) != body:
        raise InvalidRecord("stored body is not in canonical JSON form")
    return record
