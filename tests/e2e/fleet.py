"""The end-to-end setup: the fake provider (in this process, one behaviour per candidate model),
two `rollout serve` replicas and, optionally, a `rollout controller` process, all on one real
Redis, under one config of automatic rollouts with short stages and 1 s metric buckets.

Rollout `<r>` governs the requested model `ask-<r>` (its baseline leaves it as asked) and sends
its candidate calls to `cand-<r>`, whose behaviour in the fake provider is the case's. What the
SDK reads as the answer's model is therefore the arm that served it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.fake_provider import build_app
from proxy.fake_provider.settings import FakeSettings, ModelBehaviour
from rollout.targeting.cohorts import bucket
from tests.support.controller_process import ControllerProcess
from tests.support.proxy_process import ProxyProcess, start_proxy_process
from tests.support.redis_server import RedisServer
from tests.support.servers import RunningServer, free_port, serve_in_thread
from tests.support.subject_load import Ask
from tests.support.webhook_receiver import Hook, webhook_receiver

TOKEN = "e2e-token"
ENV = {"LLM_ROLLOUT_ADMIN_TOKEN": TOKEN}
_REPO = Path(__file__).resolve().parents[2]

STAGES = (10, 50, 100)


def plan(stages: str = str(list(STAGES))) -> str:
    """An automatic plan's fields in YAML flow style, with `stages` (a YAML flow list). Short
    stages: every look is 1 s apart and a stage needs 2 s and 40 candidate calls; the first
    stage's regression test is made at 40 (it holds the stage until made)."""
    return (
        f"automatic: true, stages: {stages}, min_duration: 2, min_requests: 40,"
        " evaluation_interval: 1, bake_time: 2, rollback_after: 2,"
        " regression_test: {requests: 40}"
    )


PLAN = plan()
# Every baseline call mirrored (half with a second baseline call for the noise), 2 s and 40
# shadow calls of shadow phase before the ramp.
SHADOW = "\n    shadow: {share: 1, per: request, noise_share: 0.5, max_cpu: 1}"
SHADOW_PHASE = "{duration: 2, min_requests: 40, test_requests: 40}"
ERRORS = "{metric: error_rate, max_delta_to_baseline: 0.1, min_sample: 40}"
REFUSALS = "{metric: refusal_rate, max_delta_to_baseline: 0.1, min_sample: 40, class: %s}"


@dataclass(frozen=True)
class Case:
    """One rollout: its candidate's behaviour, its gates, and how the load asks."""

    name: str
    gates: str  # a YAML flow list
    behaviour: dict[str, Any] = field(default_factory=dict)  # fake provider knobs
    stream: bool = False
    json: bool = False
    shadow: bool = False  # mirror to the candidate in a shadow phase before the ramp
    plan: str = PLAN  # the plan's fields, gates and shadow phase left out

    @property
    def baseline(self) -> str:
        return f"ask-{self.name}"

    @property
    def candidate(self) -> str:
        return f"cand-{self.name}"

    @property
    def ask(self) -> Ask:
        return Ask(self.baseline, stream=self.stream, json=self.json)

    def yaml(self) -> str:
        shadow = SHADOW if self.shadow else ""
        phase = f", shadow: {SHADOW_PHASE}" if self.shadow else ""
        return f"""
  - name: {self.name}
    models: [{self.baseline}]
    subject: [header:x-user-id]
    candidate: {{model: {self.candidate}}}{shadow}
    plan: {{{self.plan}{phase}, gates: {self.gates}}}"""


GOOD = Case(
    "good",
    f"[{ERRORS}, {REFUSALS % 'secondary'}, {{metric: latency_p95, max: 2.0, min_sample: 100}}]",
)
APPROVAL = Case("approval", f"[{ERRORS}, {REFUSALS % 'secondary'}]", {"refusal_rate": 0.5})
BAD = (
    Case("errors", f"[{ERRORS}]", {"error_rate": 0.5}),
    Case("refusals", f"[{REFUSALS % 'primary'}]", {"refusal_rate": 0.5}),
    Case(
        "ttft",
        "[{metric: ttft_p95, max_ratio_to_baseline: 2, min_sample: 40}]",
        {"ttft": 0.25},
        stream=True,
    ),
    # Priced 10x the baseline below; the cost gate needs 6 one-second buckets on each side.
    Case("cost", "[{metric: cost_per_1k, max_ratio_to_baseline: 1.5, min_sample: 40}]"),
    Case(
        "json",
        "[{metric: json_validity, max_delta_to_baseline: 0.1, min_sample: 40}]",
        {"invalid_json_rate": 0.5},
        json=True,
    ),
)
SHADOWED = Case(
    "shadowed",
    "[{metric: disagreement_error, max_delta_to_baseline: 0.1, min_sample: 40},"
    " {metric: disagreement_refusal, max_delta_to_baseline: 0.1, min_sample: 40}]",
    shadow=True,
)
# Half its calls failing, caught on the mirrored calls against the noise arm before the ramp.
SHADOW_ERRORS = Case("shadowerrors", f"[{ERRORS}]", {"error_rate": 0.5}, shadow=True)
HANDOVER = Case("handover", f"[{ERRORS}]")
PRICES = "ask-cost: {input: 1.0, output: 2.0}, cand-cost: {input: 10.0, output: 20.0}"


def config_yaml(fake: RunningServer, store: str, cases: Sequence[Case], hook: str = "") -> str:
    notify = (
        f"notify: [{{name: e2e, url: {hook!r}, events: [rollback, completion]}}]" if hook else ""
    )
    return f"""{notify}
providers:
  fake: {{base_url: "{fake.url}/v1"}}
routes: [{{prefix: /v1, provider: fake}}]
observe: {{prices: {{{PRICES}}}}}
store: {store}
rollouts:{"".join(case.yaml() for case in cases)}
"""


def fake_settings(cases: Sequence[Case]) -> FakeSettings:
    models = {c.candidate: ModelBehaviour(**c.behaviour) for c in cases if c.behaviour}
    return FakeSettings(models=models, record_limit=0)


@contextmanager
def fake_provider(cases: Sequence[Case]) -> Iterator[RunningServer]:
    settings = fake_settings(cases)
    with serve_in_thread(lambda: build_app(settings)) as server:
        yield server


def subjects_by_stage(rollout: str, per_stage: int = 20) -> list[str]:
    """Subjects spread evenly over the stages: `per_stage` of them join the candidate at each
    stage (bucket below 10%, 10-50%, 50-100%), so both arms get calls at every stage."""
    bands: list[list[str]] = [[] for _ in STAGES]
    i = 0
    while any(len(band) < per_stage for band in bands):
        subject = f"user-{i}"
        band = next(n for n, p in enumerate(STAGES) if bucket(rollout, subject) < p / 100)
        if len(bands[band]) < per_stage:
            bands[band].append(subject)
        i += 1
    return [s for trio in zip(*bands, strict=True) for s in trio]


def candidates_at(rollout: str, subjects: Sequence[str], weight: float) -> set[str]:
    return {s for s in subjects if bucket(rollout, s) < weight}


CONTROLLER_ARGV = [sys.executable, "-m", "rollout.cli.main", "controller"]


def start_controller_process(config: Path) -> ControllerProcess:
    """`rollout controller --config FILE`, its output in a log next to the config."""
    log_path, admin_port = config.with_suffix(".log"), free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            # Its own free admin port: the config's default (9090) may be taken on this host.
            [*CONTROLLER_ARGV, "--config", str(config), "--admin-port", str(admin_port)],
            cwd=_REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ControllerProcess(process, config, log_path, admin_port)


def replace_file(path: Path, text: str) -> None:
    """Write `text` to a new file next to `path` and rename it over `path`, as a ConfigMap
    update swaps its files: a reader sees the old content or the new, never half of it."""
    staged = path.with_name(f".{path.name}.new")
    staged.write_text(text)
    os.replace(staged, path)


@dataclass(frozen=True)
class Member:
    """Where to read one process of the fleet from outside."""

    admin_url: str  # GET /v1/config, /metrics
    config_path: Path  # the file it follows
    log_path: Path


@dataclass
class Fleet:
    replicas: list[ProxyProcess]
    controller: ControllerProcess | None
    fake: RunningServer
    store: str  # the config's store section
    hook: Hook | None = None  # the webhook receiver every controller notifies

    @property
    def urls(self) -> list[str]:
        return [r.url for r in self.replicas]

    def pids(self) -> set[int]:
        """Every process that runs a controller."""
        found = {r.process.pid for r in self.replicas}
        return found | ({self.controller.process.pid} if self.controller else set())

    def members(self) -> dict[int, Member]:
        """Every process (the replicas, then the controller process), by pid."""
        found = {
            r.process.pid: Member(r.admin_url, r.config_path, r.log_path) for r in self.replicas
        }
        if (c := self.controller) is not None:
            found[c.process.pid] = Member(c.admin_url, c.config, c.log)
        return found

    def rewrite(self, cases: Sequence[Case]) -> None:
        """Edit the config as an operator would: the config of `cases` replaces every process's
        file, one atomic swap each. The files differ only in what the helper put on top of a
        replica's (its own listen and admin ports: one host, one port each), so the rollouts
        they hold are the same, as each pod's copy of one ConfigMap is."""
        yaml = config_yaml(self.fake, self.store, cases, self.hook.url if self.hook else "")
        for replica in self.replicas:
            replace_file(replica.config_path, replica.header + yaml)
        if self.controller is not None:
            replace_file(self.controller.config, yaml)


@contextmanager
def start_fleet(
    fake: RunningServer,
    store: str,
    cases: Sequence[Case],
    directory: Path,
    standalone: bool,
    hook: Hook | None = None,
) -> Iterator[Fleet]:
    """Two replicas (each with its embedded controller) and, with `standalone`, a
    `rollout controller` process: every one of them contends for the leader lock."""
    yaml = config_yaml(fake, store, cases, hook.url if hook else "")
    with ExitStack() as stack:
        replicas = []
        for name in ("a", "b"):
            replica = start_proxy_process(yaml, directory, name=name, env=ENV)
            stack.callback(replica.stop)
            replicas.append(replica)
        controller = None
        if standalone:
            path = directory / "controller.yaml"
            path.write_text(yaml)
            controller = start_controller_process(path)
            stack.callback(controller.stop)
        yield Fleet(replicas, controller, fake, store, hook)


@contextmanager
def redis_fleet(
    redis: RedisServer, cases: Sequence[Case], directory: Path, standalone: bool
) -> Iterator[Fleet]:
    """`start_fleet` on `redis`, under a key prefix of its own, with 1 s metric buckets, in
    front of a fake provider that plays the `cases`."""
    prefix = f"e2e-{uuid.uuid4().hex[:8]}:"
    store = f'{{redis_url: "{redis.url}", key_prefix: "{prefix}", window_bucket_seconds: 1}}'
    with (
        fake_provider(cases) as fake,
        webhook_receiver() as hook,
        start_fleet(fake, store, cases, directory, standalone, hook) as f,
    ):
        yield f
