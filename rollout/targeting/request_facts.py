"""What the control-plane logic (flag conditions, cohort overrides) may read of a request.

The proxy's Exchange provides these attributes; rollout/ never sees aiohttp objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class RequestFacts(Protocol):
    @property
    def api(self) -> str | None: ...  # e.g. "openai.chat"; None for a passthrough request

    @property
    def model(self) -> str | None: ...  # the model the request names (after any re-route)

    @property
    def payload(self) -> dict[str, Any] | None: ...  # the parsed JSON body

    @property
    def subject(self) -> str | None: ...  # the unit of stickiness, e.g. a user id

    @property
    def headers(self) -> Mapping[str, str]: ...  # case-insensitive lookup

    @property
    def route_prefix(self) -> str: ...  # the prefix of the route the request came in on
