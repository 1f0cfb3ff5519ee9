"""`rollout pause|resume|promote|approve NAME --reason ...`: people's actions on an automatic
rollout (the controller's ramp). Pause, resume and promote need an operator token, approve an
approver token; `rollback` (rollout/cli/admin.py) works on every rollout."""

from __future__ import annotations

import argparse
from typing import Any

from rollout.cli import args as cli_args
from rollout.cli.http import Command, call, run_command, seg, why
from rollout.cli.output import phase_line


def add_people_commands(sub: Any, changes: argparse.ArgumentParser) -> None:
    """`changes`: the parent parser with --admin, --reason and --actor."""
    helps = {
        "pause": "stop the ramp where it is (the candidate keeps its share; rollback still works)",
        "resume": "let a paused ramp carry on",
        "promote": "skip the rest of the current stage: the next one now",
    }
    for action, text in helps.items():
        command = sub.add_parser(action, parents=[changes], help=text)
        command.add_argument("name", metavar="NAME")
        command.set_defaults(command=run_command(_action(action)))
        if action == "promote":
            command.add_argument("--full", action="store_true", help="straight to 100%% (baking)")

    approve = sub.add_parser(
        "approve",
        parents=[changes],
        help="let the ramp into a stage, accept a failed gate, or let a version start on its eval",
    )
    approve.add_argument("name", metavar="NAME")
    which = approve.add_mutually_exclusive_group()
    which.add_argument(
        "--gate", type=cli_args.text, help="accept this failed secondary gate (extra monitoring)"
    )
    which.add_argument(
        "--stage", metavar="P", type=cli_args.percent, help="approve entering stage P%% (ahead too)"
    )
    which.add_argument(
        "--eval",
        action="store_true",
        help="let a pending version start on its eval: accept a conditional pass, or override a"
        " missing or failed one (audited with the reason; extra monitoring)",
    )
    approve.set_defaults(command=run_command(_action("approve")))


def _action(action: str) -> Command:
    def run(args: argparse.Namespace) -> int:
        body: dict[str, Any] = why(args)
        if getattr(args, "full", False):
            body["full"] = True
        for field in ("gate", "stage"):
            if getattr(args, field, None) is not None:
                body[field] = getattr(args, field)
        if getattr(args, "eval", False):
            body["eval"] = True
        answer = call(args, "POST", f"/v1/rollouts/{seg(args.name)}/{action}", body)
        print(phase_line(answer))
        return 0

    return run
