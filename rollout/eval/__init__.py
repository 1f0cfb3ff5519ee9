"""Offline evaluation: a JSONL dataset of cases sent to both arms of a rollout, each answer
checked against the case's expectations, and the release gated on the result.

dataset.py loads and validates the cases (docs/eval-dataset.md describes the format), answer.py
is one arm's answer as the checks see it, expect.py holds the pure expectation checks.

May import rollout.config, rollout.quality, rollout.stats and rollout.errors; never proxy.
"""
