"""Prometheus metrics of config reloads (docs/reload.md): how many, when the last one worked,
which config is in use, and what is wrong with a refused one."""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge

from rollout.config.reloader import ReloadResult

RELOADS = Counter(
    "llm_rollout_config_reloads",
    "Config reload attempts (file change, SIGHUP, admin call) by result: ok or error.",
    ["result"],
)
LAST_SUCCESS = Gauge(
    "llm_rollout_config_last_reload_success_timestamp_seconds",
    "Unix time of the last reload that succeeded (or of the load at start).",
    multiprocess_mode="livemax",
)
INFO = Gauge(
    "llm_rollout_config_info",
    "1 for the hash of the config in use (prompt texts included).",
    ["hash"],
    multiprocess_mode="livemax",
)
PROBLEMS = Gauge(
    "llm_rollout_config_reload_problem",
    "1 per problem of the last reload attempt while it failed: file, key path and the whole"
    " message (file: key.path: message (got value)).",
    ["file", "key", "problem"],
    multiprocess_mode="livemax",
)
_MAX_PROBLEMS = 20  # labels are free text: bound the series a broken file can create


def report_loaded(config_hash: str, at: float) -> None:
    LAST_SUCCESS.set(at)
    _only(INFO, [(config_hash,)])


def report_reload(result: ReloadResult) -> None:
    RELOADS.labels("ok" if result.ok else "error").inc()
    if result.ok:
        report_loaded(result.config_hash, result.at)
    shown = result.problems[:_MAX_PROBLEMS]
    _only(PROBLEMS, [(p.file, p.path, str(p)) for p in shown])


def _only(gauge: Gauge, wanted: list[tuple[str, ...]]) -> None:
    """Set the wanted label sets to 1 and the others to 0; drop those from the exposition with
    one process (with several, prometheus-client cannot remove a series: it stays at 0)."""
    shared = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    for labels in list(gauge._metrics):  # prometheus-client has no public list of children
        if labels not in wanted:
            gauge.labels(*labels).set(0)
            if not shared:
                gauge.remove(*labels)
    for labels in wanted:
        gauge.labels(*labels).set(1)
