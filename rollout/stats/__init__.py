"""Statistics shared by the controller, the quality checks and offline evaluation: intervals and
exact tests (gate_stats.py), the mergeable log-bucket latency histogram (histogram.py).

Pure math: imports nothing of the project but errors.
"""
