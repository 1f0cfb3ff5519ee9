"""Shadow traffic: mirrored copies of live requests sent to the candidate, off the request path.

Built here: the bounded queue that runs shadow jobs (queue.py), the USD-per-hour budget that
pauses mirroring (budget.py) and their metrics (metrics.py). See docs/shadow.md.
"""
