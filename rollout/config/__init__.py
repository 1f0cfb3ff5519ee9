"""Config: schema (model.py) and loading with precise error reports (load.py)."""

from rollout.config.load import load_config, missing_credentials, parse_config
from rollout.config.model import ApiKind, Config, Limits, Listen, Provider, Route, Timeouts

__all__ = [
    "ApiKind",
    "Config",
    "Limits",
    "Listen",
    "Provider",
    "Route",
    "Timeouts",
    "load_config",
    "missing_credentials",
    "parse_config",
]
