"""The admin port: its server (server.py), the rollout and people API (api.py), bearer-token
roles (auth.py), shadow pairs (shadow.py), the config API (config_api.py) and the standalone
controller process with its own admin port (controller.py).
"""
