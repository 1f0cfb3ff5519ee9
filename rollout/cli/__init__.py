"""The `rollout` command, one file per verb group (main.py builds the parser).

data_plane.py is the one place allowed to import `proxy` (lazily, to start servers); every
other verb talks to a running proxy over its admin HTTP API or works on files.
"""
