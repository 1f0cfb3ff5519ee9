"""`rollout simulate`: synthetic metric streams replayed through the controller's own `decide()`
beside a Flagger-style rule, the Neyman-Pearson limit of detection, and the report.

Imports control, config and errors (and numpy, lazily); nothing imports it but the CLI.
"""
