"""Who gets what: sticky cohorts, feature flags and their matching rules, variants (what an arm
changes in a request) and the request facts they are judged on.

Imports config and errors only; the proxy's stages call it on every request, so it stays lean.
"""
