"""The metric catalogue, once: what each gate metric measures, how, and which way is better.
Config validation, the gate statistics, the controller, `rollout eval` and the docs all read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Tier = Literal["dev", "staging", "prod"]
GateClass = Literal["primary", "secondary"]
Metric = Literal[
    "error_rate",
    "refusal_rate",
    "json_validity",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "ttft_p95",
    "cost_per_1k",
    "disagreement_error",
    "disagreement_refusal",
    "disagreement_json",
    "disagreement_tools",
    "disagreement_finish",
    "disagreement_length",
    "disagreement_text",
    "expect_pass_rate",
    "judge_disagreement",
    "review_agreement",
]
SCORE_METRIC = re.compile(r"^score_[a-z][a-z0-9_]*$")  # score_<scorer>: the scorer's score
BoundKind = Literal["max", "min", "max_ratio_to_baseline", "max_delta_to_baseline"]
BOUND_KINDS: tuple[BoundKind, ...] = (
    "max",
    "min",
    "max_ratio_to_baseline",
    "max_delta_to_baseline",
)


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """How a metric is measured. kind: proportion (hits / trials), quantile (of a histogram),
    cost (USD per 1000 priced requests). better: the direction of improvement."""

    kind: Literal["proportion", "quantile", "cost"]
    better: Literal["lower", "higher"]
    source: str = ""  # proportion: "hits/trials" snapshot fields; quantile: histogram name
    q: float = 0.0  # quantile only
    # Judged on shadow pairs: the "candidate" side is how often the candidate's answer disagreed
    # with the live one, the "baseline" side how often a second baseline call did (the noise).
    pairs: bool = False
    # Measured offline only, by `rollout eval` on a dataset (e.g. the share of cases whose
    # expectations hold): the live controller leaves such gates out.
    offline: bool = False


class _Catalogue(dict[str, MetricInfo]):
    """The known metrics, and `score_<scorer>` for any scorer: a proportion (its pass rate, or
    mean score), better higher. Offline unless the rollout scores answers online (its
    `scoring:` section lists the scorer; `Plan.live_metrics`)."""

    def __missing__(self, key: str) -> MetricInfo:
        if isinstance(key, str) and SCORE_METRIC.match(key):
            return score_info(key.removeprefix("score_"))
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (isinstance(key, str) and bool(SCORE_METRIC.match(key)))


def score_info(scorer: str) -> MetricInfo:
    """Live, the windows hold per scorer the sum of the answers' values and how many were
    scored (rollout/control/windows.py `add_score`)."""
    source = f"score_sum:{scorer}/score_count:{scorer}"
    return MetricInfo("proportion", "higher", source, offline=True)


# About the judges, not the arms: judged on the run's judge checks, absolute bounds only.
JUDGE_METRICS = ("judge_disagreement", "review_agreement")

METRICS: dict[str, MetricInfo] = _Catalogue(
    {
        "error_rate": MetricInfo("proportion", "lower", "errors/requests"),
        "refusal_rate": MetricInfo("proportion", "lower", "refusals/requests"),
        "json_validity": MetricInfo("proportion", "higher", "json_valid/json_checks"),
        "latency_p50": MetricInfo("quantile", "lower", "duration", 0.50),
        "latency_p95": MetricInfo("quantile", "lower", "duration", 0.95),
        "latency_p99": MetricInfo("quantile", "lower", "duration", 0.99),
        "ttft_p95": MetricInfo("quantile", "lower", "ttft", 0.95),
        "cost_per_1k": MetricInfo("cost", "lower"),
        **{
            f"disagreement_{c}": MetricInfo(
                "proportion", "lower", f"disagree:{c}/pairs:{c}", pairs=True
            )
            for c in ("error", "refusal", "json", "tools", "finish", "length", "text")
        },
        "expect_pass_rate": MetricInfo(
            "proportion", "higher", "expect_pass/expect_cases", offline=True
        ),
        "judge_disagreement": MetricInfo(
            "proportion", "lower", "judge_disagree/judge_checks", offline=True
        ),
        "review_agreement": MetricInfo(
            "proportion", "higher", "review_agree/review_labels", offline=True
        ),
    }
)
