"""What an answer is worth and costs: usage and pricing, refusals, JSON validity, the comparison
of a shadow pair, the noise estimate, redaction and the mergeable latency histogram.

Pure functions over answers; imports config and errors only.
"""
