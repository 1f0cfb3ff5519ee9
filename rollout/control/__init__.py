"""The controller: judges a rollout (snapshot, gates and their statistics, the regression test,
the pure `decide()`) and applies what it decides (apply, interventions, people's actions, audit).

Imports config, store, quality and errors; never targeting, the CLI or the proxy.
"""
