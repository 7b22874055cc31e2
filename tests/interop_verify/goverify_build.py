"""Builds the Go verifier (goverify/) once per source version into the Accord cache
(~/.cache/accord, or $ACCORD_CACHE), with its pinned modules from the Go module proxy."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).parent / "goverify"


def cache_dir() -> Path:
    return Path(os.environ.get("ACCORD_CACHE") or Path.home() / ".cache" / "accord")


@cache
def goverify_binary() -> Path:
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((SOURCE / name).read_bytes())
    binary = cache_dir() / "goverify" / digest.hexdigest()[:16] / "goverify"
    if binary.is_file():
        return binary
    go = shutil.which("go") or "/usr/local/go/bin/go"
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(f"goverify.{os.getpid()}.partial")
    # -mod=readonly: the versions are those go.mod and go.sum pin, never upgraded silently.
    subprocess.run(
        [go, "build", "-mod=readonly", "-trimpath", "-o", str(partial), "."],
        cwd=SOURCE,
        env={**os.environ, "CGO_ENABLED": "0"},
        check=True,
        timeout=600,
    )
    partial.replace(binary)
    return binary
