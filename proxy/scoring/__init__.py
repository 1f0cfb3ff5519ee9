"""Online scoring: the rollout's scorers (rollout/scorers/) judge a sample of live answers and of
shadow pairs after the answer has gone, off the request path.

A rollout's scoring at run time (rollout_scoring.py: which answers, the budget and call rate),
the job that scores one answer (job.py: a case and an answer built from the exchange, the
scores recorded), the calls-per-minute limit (rate.py) and the metrics (metrics.py). The
queues, hourly budgets and CPU admission are shadow traffic's (proxy/shadow/queue.py,
budget.py, headroom.py, resources.py). The stages are proxy/stages/score_sample.py and
proxy/stages/score.py. See docs/scorers.md, "Online scoring".
"""
