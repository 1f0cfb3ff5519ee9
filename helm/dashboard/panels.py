"""The panels of the chart's Grafana dashboard, as a table of their PromQL queries.

Per-rollout panels filter on the dashboard variables `rollout`, `arm` and `role`, and use only the
metric names of docs/metrics.md. The controller's row is in controller_panels.py, online
scoring's in scoring_panels.py; build.py
lays them out as Grafana's JSON.
"""

from __future__ import annotations

from controller_panels import CONTROLLER
from panel_model import ROLLOUT, WINDOW, Panel, Row, value_mappings
from scoring_panels import SCORING

CALL = 'rollout="$rollout", arm=~"$arm", role=~"$role"'  # the per-call labels of one rollout
SHADOW_COMPARISONS = "llm_rollout_shadow_comparisons_total"


def rate(metric: str, selector: str = CALL) -> str:
    matchers = f"{{{selector}}}" if selector else ""
    return f"rate({metric}{matchers}{WINDOW})"


def sum_rate(by: str, metric: str, selector: str = CALL) -> str:
    return f"sum by ({by}) ({rate(metric, selector)})"


def share(by: str, part: str, whole: str, part_extra: str = "", selector: str = CALL) -> str:
    """The rate of `part` (with extra matchers) over the rate of `whole`, per `by`."""
    return f"{sum_rate(by, part, selector + part_extra)}\n  / {sum_rate(by, whole, selector)}"


def quantile(q: float, histogram: str, by: str = "arm, role", selector: str = CALL) -> str:
    return f"histogram_quantile({q}, {sum_rate(by + ', le', histogram + '_bucket', selector)})"


def disagreement(by: str, extra: str) -> str:
    """Share of shadow comparisons that disagree, per `by`. A comparator that never disagreed
    has no `disagree` series: `or ... * 0` makes it show 0%, not "no data"."""
    selector = ROLLOUT + extra
    whole = sum_rate(by, SHADOW_COMPARISONS, selector)
    part = sum_rate(by, SHADOW_COMPARISONS, selector + ', result="disagree"')
    return f"({part}\n  or {whole} * 0)\n  / {whole}"


CANDIDATE_DISAGREEMENT = disagreement("comparator", ', kind="candidate"')
NOISE_DISAGREEMENT = disagreement("comparator", ', kind="noise"')
ABOVE_NOISE = f"({CANDIDATE_DISAGREEMENT})\n- ({NOISE_DISAGREEMENT})"


ON_OFF = value_mappings({0: ("off", "green"), 1: ("ON", "red")})
ARM_ROLE = "{{arm}} {{role}}"


def split_panel(title: str, metric: str, label: str) -> Panel:
    """The rate of `metric` per arm and one more label, e.g. errors by kind."""
    legend = "{{arm}} {{" + label + "}}"
    return Panel(title, "reqps", [(sum_rate(f"arm, {label}", metric), legend)])


def share_panel(title: str, part: str, whole: str, part_extra: str = "", text: str = "") -> Panel:
    """A rate of `part` over `whole` per arm and role, e.g. errors over calls."""
    return Panel(
        title, "percentunit", [(share("arm, role", part, whole, part_extra), ARM_ROLE)], text
    )


TRAFFIC = Row(
    "Traffic: $rollout",
    [
        Panel(
            "Requests by arm and role",
            "reqps",
            [(sum_rate("arm, role", "llm_rollout_requests_total"), ARM_ROLE)],
            "LLM calls finished, any outcome.",
        ),
        share_panel(
            "Error rate by arm",
            "llm_rollout_errors_total",
            "llm_rollout_requests_total",
            ', kind!="client_cancelled"',
            "Failed calls over all calls; a client's own cancel is not an error.",
        ),
        split_panel("Errors by kind", "llm_rollout_errors_total", "kind"),
    ],
)

LATENCY = Row(
    "Latency: $rollout",
    [
        Panel(
            "Request duration p50 / p95 / p99 by arm",
            "s",
            [
                (quantile(q, "llm_rollout_request_duration_seconds"), f"{ARM_ROLE} p{int(q * 100)}")
                for q in (0.5, 0.95, 0.99)
            ],
            "Arrival of the request to the last byte sent to the client.",
        ),
        Panel(
            "Time to first token p95 by arm",
            "s",
            [(quantile(0.95, "llm_rollout_ttft_seconds"), f"{ARM_ROLE} p95")],
            "Streams only: arrival to the first content-bearing event.",
        ),
    ],
)

COST = Row(
    "Tokens and cost: $rollout",
    [
        Panel(
            "Tokens by arm, role and type",
            "short",
            [(sum_rate("arm, role, type", "llm_rollout_tokens_total"), ARM_ROLE + " {{type}}")],
            "Tokens per second.",
        ),
        Panel(
            "Cost per hour by arm and role",
            "currencyUSD",
            [(f"3600 * {sum_rate('arm, role', 'llm_rollout_cost_usd_total')}", ARM_ROLE)],
            "From the price table; shadow spend is shown apart from live spend.",
        ),
        Panel(
            "Cost per 1,000 calls by arm",
            "currencyUSD",
            [
                (
                    "1000 * "
                    + share(
                        "arm, role", "llm_rollout_cost_usd_total", "llm_rollout_requests_total"
                    ),
                    ARM_ROLE,
                )
            ],
        ),
        Panel(
            "Calls whose cost is unknown",
            "reqps",
            [
                (
                    sum_rate("arm, role", "llm_rollout_unpriced_requests_total"),
                    ARM_ROLE + " unpriced",
                ),
                (sum_rate("arm, role", "llm_rollout_usage_missing_total"), ARM_ROLE + " no usage"),
            ],
            "Unpriced: a model the price table does not know. No usage: the answer carried none.",
        ),
    ],
)

QUALITY = Row(
    "Answers: $rollout",
    [
        share_panel(
            "Refusal rate by arm", "llm_rollout_refusals_total", "llm_rollout_requests_total"
        ),
        share_panel(
            "JSON-invalid rate by arm",
            "llm_rollout_json_checks_total",
            "llm_rollout_json_checks_total",
            ', result!="valid"',
            "Of the calls that had to answer JSON: invalid JSON, schema mismatch or truncated.",
        ),
        split_panel("JSON checks by result", "llm_rollout_json_checks_total", "result"),
    ],
)

STATE = Row(
    "Rollout state: $rollout",
    [
        Panel(
            "Candidate weight",
            "percentunit",
            [
                (f"min(llm_rollout_weight{{{ROLLOUT}}})", "lowest replica"),
                (f"max(llm_rollout_weight{{{ROLLOUT}}})", "highest replica"),
            ],
            "The candidate's share of subjects each replica applies; the two lines part while "
            "a change is reaching the replicas.",
        ),
        Panel(
            "Kill switch",
            "none",
            [(f"max(llm_rollout_killed{{{ROLLOUT}}})", "kill switch")],
            kind="stat",
            mappings=ON_OFF,
        ),
        Panel(
            "Arm assignments by reason",
            "reqps",
            [
                (
                    sum_rate(
                        "arm, reason", "llm_rollout_assignments_total", ROLLOUT + ', arm=~"$arm"'
                    ),
                    "{{arm}} {{reason}}",
                )
            ],
            "hash, sticky, override, flag, killed, random (no subject).",
        ),
        Panel(
            "Prompt not applied",
            "reqps",
            [
                (
                    sum_rate(
                        "arm", "llm_rollout_prompt_not_applied_total", ROLLOUT + ', arm=~"$arm"'
                    ),
                    "{{arm}}",
                )
            ],
            "Governed calls whose API cannot carry the arm's prompt (forwarded without it).",
        ),
    ],
)

SHADOW = Row(
    "Shadow traffic: $rollout",
    [
        Panel(
            "Shadow jobs by outcome",
            "reqps",
            [(sum_rate("outcome", "llm_rollout_shadow_jobs_total", ROLLOUT), "{{outcome}}")],
        ),
        Panel(
            "Shadow requests dropped by reason",
            "reqps",
            [(sum_rate("reason", "llm_rollout_shadow_dropped_total", ROLLOUT), "{{reason}}")],
        ),
        Panel(
            "Proxy CPU read by the shadow check",
            "percentunit",
            [("max by (instance) (llm_rollout_shadow_cpu_share)", "{{instance}}")],
            "Per proxy process: above a rollout's shadow.max_cpu, its requests are not mirrored"
            " (dropped as busy): live traffic first.",
        ),
        Panel(
            "Shadow budget paused",
            "none",
            [(f"max(llm_rollout_shadow_budget_paused{{{ROLLOUT}}})", "paused")],
            kind="stat",
            mappings=ON_OFF,
        ),
        Panel(
            "Disagreement rate by comparator",
            "percentunit",
            [(disagreement("kind, comparator", ""), "{{kind}} {{comparator}}")],
            "candidate: primary vs candidate shadow; noise: primary vs a second baseline call.",
        ),
        Panel(
            "Candidate disagreement above noise",
            "percentunit",
            [
                (
                    ABOVE_NOISE,
                    "{{comparator}}",
                )
            ],
            "What the candidate changes beyond the baseline's own disagreement with itself.",
        ),
    ],
)

PROXY = Row(
    "Proxy and store (all rollouts)",
    [
        Panel(
            "Proxy overhead p50 / p99 by provider",
            "s",
            [
                (
                    quantile(q, "llm_rollout_proxy_overhead_seconds", "provider", selector=""),
                    f"{{{{provider}}}} p{int(q * 100)}",
                )
                for q in (0.5, 0.99)
            ],
            "Time spent in the proxy itself, before the upstream call and after its last byte.",
        ),
        Panel(
            "Store up (lowest replica)",
            "none",
            [("min(llm_rollout_store_up)", "store up")],
            kind="stat",
            mappings=value_mappings({0: ("DOWN", "red"), 1: ("up", "green")}),
        ),
        Panel(
            "Store errors by operation",
            "ops",
            [
                (sum_rate("op", "llm_rollout_store_errors_total", ""), "{{op}}"),
                ("sum(rate(llm_rollout_window_fields_dropped_total[$__rate_interval]))", "dropped"),
            ],
            "Failed or skipped store calls; metric-window fields given up after a long outage.",
        ),
        Panel(
            "State refreshes by trigger",
            "ops",
            [(sum_rate("trigger", "llm_rollout_state_refreshes_total", ""), "{{trigger}}")],
        ),
        Panel(
            "Requests answered by the proxy itself",
            "reqps",
            [
                (
                    sum_rate("reason", "llm_rollout_rejected_requests_total", ""),
                    "rejected {{reason}}",
                ),
                (
                    sum_rate("reason", "llm_rollout_malformed_requests_total", ""),
                    "malformed {{reason}}",
                ),
            ],
            "Rejected (no route, too large) and malformed bodies (forwarded untouched).",
        ),
        Panel(
            "Stage errors and flag matches",
            "reqps",
            [
                (sum_rate("stage", "llm_rollout_stage_errors_total", ""), "stage {{stage}}"),
                (sum_rate("flag", "llm_rollout_flag_matches_total", ""), "flag {{flag}}"),
            ],
        ),
    ],
)

ROWS = [TRAFFIC, LATENCY, COST, QUALITY, STATE, SHADOW, SCORING, CONTROLLER, PROXY]
