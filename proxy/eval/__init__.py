"""`rollout eval`'s data-plane half: a dataset's cases sent to each arm of a rollout through the
proxy's own stages (rewrite, observe, forward, conclude) on a loopback port, with a response
cache, retries, a cost cap and bounded concurrency. What the answers mean is rollout/eval/.
"""
