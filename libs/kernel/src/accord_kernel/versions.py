"""Optimistic concurrency at the HTTP boundary: the version a caller last saw, from `If-Match`
(RFC 9110; an entity tag holding the aggregate's version, as responses report it) or from the
body's `expected_version`. A stale one is answered 412 with the current version."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header

from accord_kernel.problems import Problem

_TAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


def _if_match(
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=64)] = None,
) -> int | None:
    if if_match is None:
        return None
    found = _TAG.match(if_match)
    if found is None or int(found.group(1)) < 1:
        raise Problem(
            422,
            "invalid_if_match",
            "Invalid If-Match",
            'If-Match must hold the record\'s version, for example "3".',
            errors=[{"field": "If-Match", "message": "not a quoted version", "kind": "invalid"}],
        )
    return int(found.group(1))


IfMatch = Annotated[int | None, Depends(_if_match)]


def expected(body_version: int | None, header_version: int | None) -> int | None:
    """The version the caller expects; the two ways of saying it must agree."""
    if body_version is not None and header_version is not None and body_version != header_version:
        raise Problem(
            422,
            "conflicting_versions",
            "Two different expected versions",
            "expected_version and If-Match name different versions.",
            errors=[
                {
                    "field": "expected_version",
                    "message": "names another version than If-Match",
                    "kind": "conflicts_with_if_match",
                }
            ],
        )
    return body_version if body_version is not None else header_version


def required(version: int | None) -> int:
    """For commands where a lost update would hurt (two coordinators scheduling one case): the
    caller must say which version it saw (RFC 6585 428)."""
    if version is None:
        raise Problem(
            428,
            "precondition_required",
            "Expected version required",
            "Send the case's current version as If-Match or expected_version; read "
            "the case to learn it.",
        )
    return version
