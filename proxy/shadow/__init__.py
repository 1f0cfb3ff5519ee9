"""Shadow traffic: mirrored copies of live requests sent to the candidate, off the request path.

A rollout's mirroring (mirror.py: when, which requests, what is kept of a pair), the shadow job
(pair.py: the copies through the live stages, then the comparison), its send (send.py), what a
side is reduced to (sides.py), the bounded queue (queue.py), the hourly budget (budget.py)
shared across processes (budget_sync.py), what outlives a reload (resources.py) and the metrics
(metrics.py). The stages that choose and hand over requests are proxy/stages/shadow_sample.py
and proxy/stages/mirror.py. See docs/shadow.md.
"""
