"""Build every rollout's online scoring for a config generation: the rollout's scorers (the same
objects `rollout eval` uses, rollout/scorers/build.py) over a judge client that sends their
calls through the proxy's upstream sessions (proxy/eval/judge_client.py) and hands each call's
cost to the rollout's budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from proxy.cohorts.compiled import CompiledRollout
from proxy.eval.judge_client import JudgeClient
from proxy.scoring.rate import CallsPerMinute
from proxy.scoring.rollout_scoring import RolloutScoring
from proxy.shadow.resources import ShadowResources
from proxy.upstream import Upstream
from rollout.config import Config
from rollout.config.prices import price_table
from rollout.control.windows import WindowAggregator
from rollout.quality.refusal import shared_detector
from rollout.scorers.build import build_scorers


class ScoringRates:
    """Each rollout's calls-per-minute limit, kept across reloads (a reload must not reset the
    minute's count); a new limit starts a new count."""

    def __init__(self) -> None:
        self._rates: dict[str, CallsPerMinute] = {}

    def get(self, rollout: str, limit: int | None) -> CallsPerMinute | None:
        if limit is None:
            self._rates.pop(rollout, None)
            return None
        rate = self._rates.get(rollout)
        if rate is None or rate.limit != limit:
            rate = self._rates[rollout] = CallsPerMinute(limit)
        return rate


def build_scorings(
    config: Config,
    upstreams: Mapping[str, Upstream],
    rollouts: Sequence[CompiledRollout],
    resources: ShadowResources,
    rates: ScoringRates,
    windows: WindowAggregator | None,
) -> dict[str, RolloutScoring]:
    scored = [r for r in rollouts if r.config.scoring is not None]
    if not scored:
        return {}
    prices = price_table(config)
    phrases = config.observe.refusal_phrases
    refusals = shared_detector(tuple(phrases) if phrases is not None else None)
    out: dict[str, RolloutScoring] = {}
    for rollout in scored:
        spec = rollout.config.scoring
        assert spec is not None
        box: list[RolloutScoring] = []  # the scoring, once built: the client reports to it

        def spent(usd: float, box: list[RolloutScoring] = box) -> None:
            box[0].spent(usd)

        client = JudgeClient(upstreams, prices, refusals, on_spend=spent)
        everything = build_scorers(config, client.complete)
        scorers = {name: everything[name] for name in spec.scorers}
        rate = rates.get(rollout.name, spec.calls_per_minute)
        scoring = RolloutScoring(rollout, spec, scorers, resources, windows, rate)
        box.append(scoring)
        out[rollout.name] = scoring
    return out
