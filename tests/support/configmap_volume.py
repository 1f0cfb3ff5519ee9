"""Lay out files as the kubelet does for a ConfigMap volume, and update them as it does.

The kubelet's atomic writer keeps the real files in a timestamped directory, points `..data` at
it, and gives each top-level name a symlink through `..data`. An update writes a new directory,
then swaps `..data` in one rename: a process that re-reads the path sees the old files or the
new ones, never a mix. A file mounted with subPath would never see the swap.

    volume = ConfigMapVolume(tmp_path / "etc")
    volume.write({"config.yaml": "...", "prompts/a.md": "..."})   # first projection
    volume.write({"config.yaml": "...changed"})                   # an update (prompts/ goes)
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

DATA = "..data"


class ConfigMapVolume:
    def __init__(self, mount: Path) -> None:
        self.mount = mount
        self.mount.mkdir(parents=True, exist_ok=True)

    def write(self, files: dict[str, str]) -> None:
        """Project `files` (volume path -> text) as the volume's whole new content."""
        old = self._current()
        fresh = self.mount / time.strftime(f"..%Y_%m_%d_%H_%M_%S.{time.monotonic_ns()}")
        for path, text in files.items():
            target = fresh / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        staging = self.mount / f"{DATA}_tmp"
        staging.symlink_to(fresh.name)
        os.replace(staging, self.mount / DATA)  # the atomic swap
        visible = {path.split("/", 1)[0] for path in files}
        for name in visible:
            link = self.mount / name
            if not link.is_symlink():
                link.symlink_to(f"{DATA}/{name}")
        for entry in self.mount.iterdir():
            if entry.is_symlink() and not entry.name.startswith("..") and entry.name not in visible:
                entry.unlink()
        if old is not None:
            shutil.rmtree(old)

    def _current(self) -> Path | None:
        data = self.mount / DATA
        return self.mount / os.readlink(data) if data.is_symlink() else None
