"""The README's "Try it" walkthrough, command by command, from a temporary directory outside the
repository (the eval part from a copy of config/, as it runs from the repository's root): the
demo, curl, the SDK snippet, the kill switch and its undoing, the audit, `rollout pairs`, and
`rollout eval`. Its ports are the demo config's own (8080, 9090, 8081)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PORTS = (8080, 9090, 8081)


def walkthrough() -> list[tuple[str, str]]:
    """(language, code) of each fenced block of the "Try it" section, in order."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


def commands(block: str) -> list[str]:
    """Shell lines, continuations joined, comments kept (bash ignores them)."""
    return [c for c in block.replace("\\\n", " ").splitlines() if c.strip()]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not listening(port):
        assert time.monotonic() < deadline, f"nothing listens on {port}"
        time.sleep(0.05)


@contextmanager
def background(command: str, cwd: Path, env: dict[str, str]) -> Iterator[None]:
    process = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, start_new_session=True)
    try:
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    for port in PORTS:  # the next step starts on the same ports
        deadline = time.monotonic() + 10
        while listening(port) and time.monotonic() < deadline:
            time.sleep(0.05)


def sh(command: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_readme_walkthrough(tmp_path: Path) -> None:
    taken = [p for p in PORTS if listening(p)]
    assert not taken, f"ports {taken} are taken: stop what runs there (a `rollout demo`?)"
    blocks = walkthrough()
    assert [lang for lang, _ in blocks] == ["sh", "sh", "python", "sh", "sh"]
    (setup, curl, snippet, steer, evaluate) = (code for _, code in blocks)
    assert setup.strip() == "pip install . && rollout demo"  # installed already: run the demo
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("LLM_ROLLOUT_ADMIN_TOKEN", None)

    with background("rollout demo", away, env):
        wait_for(8080)
        streamed = sh(curl, away, env)
        assert streamed.startswith("data: {") and streamed.rstrip().endswith("data: [DONE]")
        printed = subprocess.run(
            [sys.executable, "-c", snippet], cwd=away, capture_output=True, text=True, timeout=60
        )
        assert printed.returncode == 0 and len(printed.stdout.splitlines()) == 2, printed

    start, *steps = commands(steer)
    assert start.startswith("LLM_ROLLOUT_ADMIN_TOKEN=secret rollout demo")
    with background(start, away, env):
        wait_for(9090)
        outputs = [sh(step, away, env) for step in steps]
    rollouts, killed, lifted, audit, pairs = outputs
    assert json.loads(rollouts)["rollouts"][0]["name"] == "support-prompt-v2"
    assert json.loads(killed)["killed"] is True and json.loads(lifted)["killed"] is False
    actions = [e["action"] for e in json.loads(audit)["entries"]]
    assert actions[-2:] == ["kill", "unkill"]
    assert pairs.startswith("support-prompt-v2: mirroring")

    shutil.copytree(REPO / "config", tmp_path / "repo" / "config")
    fake, *evals = commands(evaluate)
    assert fake.endswith("&")
    with background(fake.rstrip("& "), tmp_path / "repo", env):
        wait_for(8081)
        for step in evals:
            sh(step, tmp_path / "repo", env)
    report = json.loads((tmp_path / "repo" / "R.json").read_text())
    assert report["verdict"] == "pass"
    assert (tmp_path / "repo" / "R.md").read_text().startswith("### `rollout eval`")
