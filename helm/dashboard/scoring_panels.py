"""The online-scoring row of the dashboard (docs/scorers.md, "Online scoring"): the score gates'
values per arm and role, verdicts per scorer, what was dropped and what the judges cost."""

from __future__ import annotations

from panel_model import ROLLOUT, WINDOW, Panel, Row, value_mappings

SCORED = 'rollout="$rollout", arm=~"$arm", role=~"$role"'


def _rate(metric: str, selector: str) -> str:
    return f"rate({metric}{{{selector}}}{WINDOW})"


def _sum_rate(by: str, metric: str, selector: str) -> str:
    return f"sum by ({by}) ({_rate(metric, selector)})"


MEAN_SCORE = (
    f"{_sum_rate('scorer, arm, role', 'llm_rollout_score_value_sum', SCORED)}\n"
    f"  / {_sum_rate('scorer, arm, role', 'llm_rollout_score_value_count', SCORED)}"
)

SCORING = Row(
    "Online scoring: $rollout",
    [
        Panel(
            "Mean score by scorer (what score_<scorer> gates read)",
            "percentunit",
            [(MEAN_SCORE, "{{scorer}} {{arm}} {{role}}")],
            "1/0 per pass/fail answer, else the score; a judge error counts as 0.",
        ),
        Panel(
            "Scored answers by result",
            "reqps",
            [
                (
                    _sum_rate("scorer, result", "llm_rollout_scores_total", SCORED),
                    "{{scorer}} {{result}}",
                )
            ],
            "passed / failed / scored (no verdict) / error (the scorer could not judge).",
        ),
        Panel(
            "Scoring dropped by reason",
            "reqps",
            [(_sum_rate("reason", "llm_rollout_scoring_dropped_total", ROLLOUT), "{{reason}}")],
            "Sampled answers not scored: queue_full, budget, rate, busy, live_cancelled, closed.",
        ),
        Panel(
            "Scoring jobs by outcome",
            "reqps",
            [(_sum_rate("outcome", "llm_rollout_scoring_jobs_total", ROLLOUT), "{{outcome}}")],
        ),
        Panel(
            "Judge spend per hour",
            "currencyUSD",
            [
                (
                    f"3600 * sum({_rate('llm_rollout_scoring_cost_usd_total', ROLLOUT)})",
                    "USD / hour",
                )
            ],
        ),
        Panel(
            "Scoring budget paused",
            "none",
            [(f"max(llm_rollout_scoring_budget_paused{{{ROLLOUT}}})", "paused")],
            kind="stat",
            mappings=value_mappings({0: ("off", "green"), 1: ("ON", "red")}),
        ),
    ],
)
