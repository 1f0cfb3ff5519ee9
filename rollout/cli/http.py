"""The admin API over HTTP for the `rollout` commands: standard library only (urllib), so the
commands import nothing of the proxy. The token in LLM_ROLLOUT_ADMIN_TOKEN goes with every call
(reads need one when the admin port is not on loopback). Any failure is an AdminError: one line
on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

DEFAULT_ADMIN_URL = "http://127.0.0.1:9090"
URL_ENV = "LLM_ROLLOUT_ADMIN_URL"
TOKEN_ENV = "LLM_ROLLOUT_ADMIN_TOKEN"
TIMEOUT = 5.0

Command = Callable[[argparse.Namespace], int]


class AdminError(Exception):
    """A failed call to the admin API, as the one line to show."""


def run_command(command: Command) -> Command:
    """Turn an AdminError into one line on stderr and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except AdminError as exc:
            print(f"rollout: error: {exc}", file=sys.stderr)
            return 1

    return run


def call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    base = (args.admin or os.environ.get(URL_ENV) or DEFAULT_ADMIN_URL).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise AdminError(f"admin URL must start with http:// or https://, not {base!r}")
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    token = os.environ.get(TOKEN_ENV, "")
    if token:  # reads need it too when the admin port is not on loopback
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise AdminError(_api_error(exc)) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise AdminError(_timed_out(base)) from exc
        reason = getattr(exc.reason, "strerror", None) or exc.reason
        raise AdminError(f"cannot reach the admin API at {base}: {reason}") from exc
    except TimeoutError as exc:
        raise AdminError(_timed_out(base)) from exc
    except OSError as exc:  # connection reset mid-answer and the like
        raise AdminError(f"cannot reach the admin API at {base}: {exc}") from exc
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise AdminError(f"the admin API at {base} answered something other than JSON") from exc


def _api_error(exc: urllib.error.HTTPError) -> str:
    try:
        message = _message(json.loads(exc.read()))
    except (OSError, ValueError):
        message = None
    hint = ""
    if exc.code == 401 and not os.environ.get(TOKEN_ENV):
        hint = f" (set {TOKEN_ENV})"
    return f"{message or exc.reason or 'no message'}{hint} (HTTP {exc.code})"


def _message(body: Any) -> str | None:
    """The API's `error.message`, or a refused config reload's problems, one per line."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    problems = body.get("problems")
    if isinstance(problems, list) and problems:
        lines = "".join(f"\n  {problem}" for problem in problems)
        return f"reload refused, the running config is kept:{lines}\n"
    return None


def _timed_out(base: str) -> str:
    return f"the admin API at {base} did not answer within {TIMEOUT:g} s"


def why(args: argparse.Namespace) -> dict[str, str]:
    return {"reason": args.reason, "actor": args.actor or os.environ.get("USER") or "cli"}


def seg(name: str) -> str:
    return urllib.parse.quote(name, safe="")
