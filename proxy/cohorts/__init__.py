"""Rollouts at run time: compiled config, live state from the store, sticky arm assignment."""
