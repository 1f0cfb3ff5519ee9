"""The base of every config model: unknown keys are errors, values are immutable."""

from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Body fields that say what the request is, not how it is served: flags and variants may not set
# them (the model has its own key, which also tells the proxy).
STRUCTURAL_FIELDS = frozenset({"model", "stream", "messages", "input", "system"})


def no_structural_fields(value: dict[str, Any], hint: str) -> dict[str, Any]:
    reserved = sorted(STRUCTURAL_FIELDS & set(value))
    if reserved:
        raise ValueError(f"may not set {', '.join(reserved)} ({hint})")
    return value
