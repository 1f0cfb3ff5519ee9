"""A Kubernetes ConfigMap volume, as the kubelet lays it out and updates it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def configmap_swap(mount: Path, files: Mapping[str, str], name: str) -> None:
    """Write `files` into a new directory `name` under `mount`, point `..data_tmp` at it and
    rename that over `..data` (one atomic step), as the kubelet does; the visible names are
    symlinks through `..data` (created the first time)."""
    target = mount / name
    target.mkdir(parents=True)
    for rel, text in files.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(text)
    os.symlink(name, mount / "..data_tmp")
    os.replace(mount / "..data_tmp", mount / "..data")
    for top in {rel.split("/")[0] for rel in files}:
        if not (mount / top).is_symlink():
            os.symlink(f"..data/{top}", mount / top)
