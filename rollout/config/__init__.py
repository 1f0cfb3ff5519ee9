"""Config: schema (model.py) and loading with precise error reports (load.py)."""

from rollout.config.load import load_config, missing_credentials, parse_config
from rollout.config.model import (
    Admin,
    ApiKind,
    Config,
    Limits,
    Listen,
    Observe,
    Price,
    Provider,
    Route,
    Timeouts,
)

__all__ = [
    "Admin",
    "ApiKind",
    "Config",
    "Limits",
    "Listen",
    "Observe",
    "Price",
    "Provider",
    "Route",
    "Timeouts",
    "load_config",
    "missing_credentials",
    "parse_config",
]
