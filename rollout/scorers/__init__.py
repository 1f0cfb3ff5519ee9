"""Scorers: what an answer is worth beyond what a request's own measurements say — safety,
instruction following, correctness, style — as named scores in [0, 1] (or pass/fail) with a
reason, and how far the judges giving them can be trusted.

base.py is the one interface (`Scorer`: an answer plus its case -> a `Score`); builtin.py the
existing checks, http.py a team's own scoring service, judge.py an LLM judge (rubric.py loads
its rubric; the LLM call is an injected `Complete`, provided by proxy/eval/, so this room never
sends to a provider itself). reliability.py measures the judges (a second judge, human review),
review.py keeps the reviewers' labels, apply.py runs the scorers over an eval run's answers.
Layer 6, beside rollout.eval; never imports `proxy`.
"""
