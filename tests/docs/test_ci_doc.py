"""docs/ci.md's workflow works: its fake-provider and eval steps run as written (bash, from a
copy of config/), and the verdict step passes on their result."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
FAKE_PORT = 8081  # the demo config's provider address, as the workflow starts it


def workflow() -> dict:
    text = (REPO / "docs" / "ci.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None, "docs/ci.md has no yaml block"
    return yaml.safe_load(block.group(1))


def step(name: str) -> str:
    steps = workflow()["jobs"]["eval"]["steps"]
    return next(s["run"] for s in steps if s.get("name") == name)


def wait_listening(port: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def test_the_workflow_steps_run_and_pass(tmp_path: Path) -> None:
    with socket.socket() as sock:
        busy = sock.connect_ex(("127.0.0.1", FAKE_PORT)) == 0
    assert not busy, f"port {FAKE_PORT} is taken: stop what runs there (a `rollout demo`?)"
    shutil.copytree(REPO / "config", tmp_path / "config")
    outputs = tmp_path / "github_output"
    env = {**os.environ, "GITHUB_OUTPUT": str(outputs), "XDG_CACHE_HOME": str(tmp_path / "c")}
    fake = subprocess.Popen(
        ["bash", "-c", step("Fake provider (the demo only)")],
        cwd=tmp_path,
        env=env,
        start_new_session=True,  # the step backgrounds the provider: its group is killed below
    )
    try:
        wait_listening(FAKE_PORT)
        subprocess.run(["bash", "-c", step("Eval")], cwd=tmp_path, env=env, check=True, timeout=300)
    finally:
        os.killpg(fake.pid, signal.SIGTERM)
        fake.wait(10)
    code = outputs.read_text().strip()
    assert code == "code=0", (tmp_path / "eval.md").read_text()
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["verdict"] == "pass" and report["run"]["calls"] == 400
    assert (tmp_path / "eval.md").read_text().startswith("### `rollout eval` support-prompt-v2")
    assert (tmp_path / "eval.xml").read_text().startswith("<?xml")
    verdict = step("Verdict").replace("${{ steps.eval.outputs.code }}", code.split("=")[1])
    assert subprocess.run(["bash", "-c", verdict], check=False).returncode == 0
