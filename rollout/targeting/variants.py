"""Apply a rollout arm's variant (model, system prompt, parameters) to a parsed request body.

Pure functions over the JSON payload dict, edited in place, one branch per API shape. The
rules, which docs/rollouts.md ("Variants and prompts") states for users:

- The prompt text is stripped of surrounding whitespace (a prompt file's final newline is not
  part of the prompt).
- `replace`: the prompt becomes the request's only system prompt. An empty prompt removes the
  request's system prompt altogether (an empty system message or block is either meaningless or
  refused by the provider).
- `prepend`: the prompt goes before the request's own system prompt, which is kept. An empty
  prompt changes nothing.
- A request whose system-prompt field has a type the API does not allow (e.g. `messages` that is
  not a list) is left exactly as it came: the provider answers it with its own error, as it would
  have without the proxy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Literal

Mode = Literal["replace", "prepend"]
Payload = dict[str, Any]

# Chat roles that carry the system prompt: "developer" is the newer name (o-series models).
_SYSTEM_ROLES = ("system", "developer")
_JOIN = "\n\n"


def apply_model(payload: Payload, model: str) -> bool:
    """Serve `model` instead of the one asked for; True when the payload changed."""
    if payload.get("model") == model:
        return False
    payload["model"] = model
    return True


def apply_params(payload: Payload, params: Mapping[str, Any]) -> bool:
    """Set top-level fields (temperature, max_tokens, ...), overriding the request's own; True
    when the payload changed."""
    changed = False
    for key, value in params.items():
        if key in payload and payload[key] == value:
            continue
        # Copy lists and dicts: `params` is shared by every request of the arm, and a later
        # stage editing this payload in place must never edit the config.
        payload[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
        changed = True
    return changed


def apply_prompt(api: str | None, payload: Payload, text: str, mode: Mode) -> bool:
    """Put `text` in the request's own system-prompt slot. False when there is none: the API has
    no system prompt (completions, embeddings, passthrough) or the request's slot is malformed;
    the payload is then untouched."""
    apply = _BY_API.get(api or "")
    return False if apply is None else apply(payload, text.strip(), mode)


def _chat(payload: Payload, text: str, mode: Mode) -> bool:
    """OpenAI chat: system prompts are messages with role system or developer. The new message
    keeps the role the request used, so o-series requests stay on "developer"."""
    messages = payload.get("messages")
    if not isinstance(messages, list):
        return False
    role = next((m["role"] for m in messages if _is_system_message(m)), "system")
    if mode == "replace":
        messages[:] = [m for m in messages if not _is_system_message(m)]
    if text:
        messages.insert(0, {"role": role, "content": text})
    return True


def _responses(payload: Payload, text: str, mode: Mode) -> bool:
    """OpenAI Responses: the `instructions` string. `replace` also drops system and developer
    messages from a list `input`, so the prompt is the only one, as in chat."""
    existing = payload.get("instructions")
    items = payload.get("input")
    if existing is not None and not isinstance(existing, str):
        return False
    if mode == "replace":
        if isinstance(items, list):
            items[:] = [i for i in items if not _is_system_item(i)]
        _set_or_drop(payload, "instructions", text)
    elif text:
        payload["instructions"] = text + _JOIN + existing if existing else text
    return True


def _is_system_message(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") in _SYSTEM_ROLES


def _is_system_item(item: Any) -> bool:
    # Input items without a type are messages; typed ones may be tool calls, outputs, etc.
    return _is_system_message(item) and item.get("type", "message") == "message"


def _anthropic(payload: Payload, text: str, mode: Mode) -> bool:
    """Anthropic messages: `system`, absent, a string or a list of content blocks."""
    existing = payload.get("system")
    if existing is not None and not isinstance(existing, str | list):
        return False
    if mode == "replace" and isinstance(existing, list) and text:
        payload["system"] = [_replacement_block(existing, text)]
    elif mode == "replace":
        _set_or_drop(payload, "system", text)
    elif text and isinstance(existing, list):
        existing.insert(0, {"type": "text", "text": text})
    elif text:
        payload["system"] = text + _JOIN + existing if existing else text
    return True


def _replacement_block(blocks: list[Any], text: str) -> dict[str, Any]:
    """One text block standing for all of the request's system blocks. A request that marked its
    system prompt for prompt caching keeps that mark (the last one), so the candidate is cached
    like the baseline is and does not look dearer than it is. It adds no breakpoint: at least one
    was on the blocks it replaces."""
    block: dict[str, Any] = {"type": "text", "text": text}
    marks = [b["cache_control"] for b in blocks if isinstance(b, dict) and b.get("cache_control")]
    if marks:
        block["cache_control"] = marks[-1]
    return block


def _set_or_drop(payload: Payload, key: str, text: str) -> None:
    if text:
        payload[key] = text
    else:
        payload.pop(key, None)


_BY_API: dict[str, Callable[[Payload, str, Mode], bool]] = {
    "openai.chat": _chat,
    "openai.responses": _responses,
    "anthropic.messages": _anthropic,
}
