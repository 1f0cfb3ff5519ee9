"""Open the store the config describes (Redis when a URL is given, else embedded)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from rollout.config.rollouts import Store as StoreConfig
from rollout.errors import ConfigError, ConfigProblem
from rollout.store import Store, open_store


def redis_url_of(config: StoreConfig, environ: Mapping[str, str] = os.environ) -> str | None:
    if config.redis_url_env:
        url = environ.get(config.redis_url_env)
        if not url:
            problem = f"environment variable {config.redis_url_env} is not set"
            raise ConfigError([ConfigProblem("environment", "store.redis_url_env", problem)])
        return url
    return config.redis_url


def open_configured_store(config: StoreConfig, environ: Mapping[str, str] = os.environ) -> Store:
    return open_store(
        redis_url_of(config, environ),
        config.data_dir,
        timeout=config.timeout,
        key_prefix=config.key_prefix,
    )
