"""Offline evaluation (`rollout eval`): a JSONL dataset of cases sent to both arms of a rollout,
each answer checked against the case's expectations, and the release gated on the same gates as
the live controller, judged on paired answers; reports for people and CI.

dataset.py loads the cases (docs/eval-dataset.md), expect.py checks an answer, metrics.py and
gates.py judge the gates, verdict.py says pass / conditional pass / fail / could not tell,
report.py and render.py write it up. Imports config, quality, stats, control and errors; never
`proxy` (proxy/eval/ is the harness that sends the cases through the proxy's own stages).
"""
