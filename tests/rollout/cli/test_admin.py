"""`rollout status|history|weight|kill|unkill|rollback|flag` against a real proxy's admin port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from proxy.fake_provider import build_app
from rollout.cli.main import main
from tests.support.proxy import ADMIN_TOKEN as TOKEN
from tests.support.proxy import ServedProxy, cli_environment, serve_rollout_and_flag
from tests.support.servers import serve_in_thread


@pytest.fixture(scope="module")
def served() -> Iterator[ServedProxy]:
    with serve_in_thread(build_app) as fake, serve_rollout_and_flag(fake.url) as served:
        yield served


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, served: ServedProxy) -> pytest.MonkeyPatch:
    return cli_environment(monkeypatch, served, TOKEN)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse: usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_changes_status_and_history(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "status")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("r  (version ") and lines[0].endswith(", by hand)")
    assert [line.split(maxsplit=1) for line in lines[1:6]] == [
        ["phase", "- (steered by hand)"],
        ["weight", "50% (max 50%)"],
        ["killed", "no"],
        ["epoch", "0"],
        ["source", "config"],
    ]
    assert lines[6] == ""
    assert lines[-1] == "store: up"

    assert run(capsys, "weight", "r", "0.2", "--reason", "slower") == (
        0,
        "r: weight 20% (max 50%), killed no, epoch 0\n",
        "",
    )
    assert run(capsys, "kill", "r", "--reason", "bad answers", "--actor", "bob")[:2] == (
        0,
        "r: weight 20% (max 50%), killed yes, epoch 0\n",
    )
    assert run(capsys, "unkill", "r", "--reason", "fixed")[:2] == (
        0,
        "r: weight 20% (max 50%), killed no, epoch 0\n",
    )
    assert run(capsys, "rollback", "r", "--reason", "gate failed")[:2] == (
        0,
        "r: weight 0% (max 0%), killed no, epoch 1 (rolled back)\n",
    )
    code, out, _ = run(capsys, "flag", "no-tools", "--on", "--percent", "25", "--reason", "test")
    assert (code, out) == (0, "flag no-tools: enabled on, percent 25%\n")

    code, out, _ = run(capsys, "status", "--json")
    body = json.loads(out)
    assert body["store_up"] is True
    assert body["rollouts"][0] | {"version": "-"} == {
        "name": "r",
        "version": "-",
        "weight": 0.0,
        "max_weight": 0.0,
        "killed": False,
        "epoch": 1,
        "source": "store",
        "automatic": False,
    }

    code, out, err = run(capsys, "history", "r")
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split() == ["TIME", "ACTOR", "ACTION", "ROLLOUT/FLAG", "REASON", "CHANGE"]
    assert len(rows) == 4
    assert rows[0].endswith("weight 50%→20%")
    assert rows[0].split()[1:6] == ["admin", "(alice)", "set_weight", "r", "slower"]
    assert rows[0].split()[0].endswith("Z")  # ISO time, UTC
    assert rows[1].split()[1:5] == ["admin", "(bob)", "kill", "r"]
    assert rows[1].endswith("killed no→yes")
    assert rows[3].endswith("weight 20%→0%, max_weight 50%→0%, epoch 0→1")

    code, out, _ = run(capsys, "history", "--limit", "1")
    assert code == 0
    assert "flag no-tools" in out
    assert out.rstrip().endswith("enabled -→on, percent -→25%")

    code, out, _ = run(capsys, "history", "r", "--limit", "2", "--json")
    entries = json.loads(out)["entries"]
    assert [e["action"] for e in entries] == ["unkill", "rollback"]
    assert [e["actor"] for e in entries] == ["admin (alice)", "admin (alice)"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["weight", "zzz", "0.1", "--reason", "x"], "no rollout named 'zzz' (HTTP 404)"),
        (["flag", "zzz", "--off", "--reason", "x"], "no flag named 'zzz' (HTTP 404)"),
        (["kill", "r", "--reason", "x"], "missing or wrong bearer token (HTTP 401)"),
    ],
)
def test_api_errors_are_one_line_and_exit_1(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    if "kill" in argv:
        env.setenv("LLM_ROLLOUT_ADMIN_TOKEN", "wrong")
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    assert err == f"rollout: error: {message}\n"


def test_missing_token_says_which_variable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.delenv("LLM_ROLLOUT_ADMIN_TOKEN")
    code, _, err = run(capsys, "rollback", "r", "--reason", "x")
    assert code == 1
    assert err == (
        "rollout: error: missing or wrong bearer token (set LLM_ROLLOUT_ADMIN_TOKEN) (HTTP 401)\n"
    )


def test_admin_flag_overrides_the_environment(
    env: pytest.MonkeyPatch, served: ServedProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("LLM_ROLLOUT_ADMIN_URL", "http://127.0.0.1:1")
    code, out, _ = run(capsys, "status", "--admin", served.admin_url + "/")
    assert code == 0
    assert out.splitlines()[0].startswith("r  (version ")


def test_unreachable_admin_url(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = run(capsys, "status", "--admin", f"http://127.0.0.1:{port}")
    assert (code, out) == (1, "")
    assert err.startswith(f"rollout: error: cannot reach the admin API at http://127.0.0.1:{port}")
    assert err.count("\n") == 1


def test_timeout(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rollout.cli.http.TIMEOUT", 0.2)
    with socket.socket() as sock:  # accepts connections (backlog) and never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        code, _, err = run(capsys, "history", "--admin", url)
    assert code == 1
    assert err == f"rollout: error: the admin API at {url} did not answer within 0.2 s\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["weight", "r", "1.5", "--reason", "x"], "must be between 0 and 1, not 1.5"),
        (["weight", "r", "0.1"], "the following arguments are required: --reason"),
        (["kill", "r", "--reason", " "], "argument --reason: must not be empty"),
        (["flag", "f", "--reason", "x"], "one of the arguments --on --off is required"),
        (["flag", "f", "--on", "--off", "--reason", "x"], "not allowed with argument"),
        (["flag", "f", "--on", "--percent", "101", "--reason", "x"], "between 0 and 100"),
        (["history", "--limit", "0"], "must be between 1 and 1000"),
        (["status", "--watch", "0"], "must be more than 0 seconds"),
        (["approve", "r", "--gate", "g", "--stage", "5", "--reason", "x"], "not allowed with"),
        (["approve", "r", "--stage", "150", "--reason", "x"], "between 0 and 100"),
        (["pause", "r"], "the following arguments are required: --reason"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err


def test_the_admin_commands_import_no_server_code() -> None:
    code = (
        "import sys, rollout.cli.admin; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'proxy')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
