"""Offline evaluation: a dataset of cases sent to both arms of a rollout (`rollout eval`), the
same gates as the live controller judged on paired answers, and reports for people and CI.

Imports config, quality, stats, control and errors; never `proxy` (the harness that sends the
cases through the proxy's own stages is proxy/eval/).
"""
