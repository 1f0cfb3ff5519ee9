"""`rollout reload` against a real `rollout serve` process (the controller process's admin port
is tested in tests/proxy/admin/test_controller.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.cli.main import main
from tests.support.proxy import openai_config
from tests.support.proxy_process import proxy_process

TOKEN = "reload-secret"


def test_reload_a_proxy_now(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = openai_config("http://127.0.0.1:9")  # no call is made: nothing needs to listen
    env = {"LLM_ROLLOUT_ADMIN_TOKEN": TOKEN, "LLM_ROLLOUT_CONFIG_POLL": "0"}  # no file polling
    with proxy_process(config, tmp_path, env=env) as proc:
        monkeypatch.setenv("LLM_ROLLOUT_ADMIN_TOKEN", TOKEN)
        head = proc.config_path.read_text()
        proc.config_path.write_text(head + "limits: {max_body_bytes: 2048}\n")
        assert main(["reload", "--admin", proc.admin_url]) == 0
        out = capsys.readouterr().out
        assert out.startswith("config reloaded (config ") and "limits" in out, out
        assert main(["reload", "--admin", proc.admin_url, "--json"]) == 0
        assert '"changes": []' in capsys.readouterr().out

        proc.config_path.write_text(head + "limits: {max_body_bytes: -1}\n")
        assert main(["reload", "--admin", proc.admin_url]) == 1
        err = capsys.readouterr().err
        assert err.startswith("rollout: error: reload refused, the running config is kept:\n")
        assert f"  {proc.config_path}: limits.max_body_bytes: " in err

        monkeypatch.delenv("LLM_ROLLOUT_ADMIN_TOKEN")
        assert main(["reload", "--admin", proc.admin_url]) == 1
        assert "(set LLM_ROLLOUT_ADMIN_TOKEN) (HTTP 401)" in capsys.readouterr().err
