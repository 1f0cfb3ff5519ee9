"""Anthropic messages: a JSON message, or the message_start ... message_stop event sequence."""

from __future__ import annotations

from typing import Any

import orjson

from proxy.observe.base import Observation, Observer
from rollout.quality.usage import Usage


class AnthropicObserver(Observer):
    def __init__(self, streaming: bool, capture: bool) -> None:
        super().__init__(streaming, capture)
        self._tools: dict[int, list[str]] = {}  # content block index -> [name, json pieces...]

    def on_event(self, name: bytes, data: bytes) -> None:
        event = self.load(data)
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                self.text(delta.get("text") or "")
            elif delta.get("type") == "input_json_delta":
                self.first_token()
                self._tools.setdefault(event.get("index", 0), [""]).append(
                    delta.get("partial_json") or ""
                )
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                self.first_token()
                self._tools[event.get("index", 0)] = [block.get("name", "")]
        elif kind == "message_start":
            usage = (event.get("message") or {}).get("usage")
            if usage:
                self.obs.usage = Usage.from_anthropic(usage)
        elif kind == "message_delta":
            self._stop((event.get("delta") or {}).get("stop_reason"))
            usage = event.get("usage")
            if usage:
                if self.obs.usage is None:
                    self.obs.usage = Usage.from_anthropic(usage)
                else:
                    self.obs.usage.merge_anthropic(usage)
        elif kind == "error":
            self.obs.error_event = True

    def on_body(self, doc: dict[str, Any]) -> None:
        usage = doc.get("usage")
        if usage:
            self.obs.usage = Usage.from_anthropic(usage)
        for block in doc.get("content") or ():
            if block.get("type") == "text":
                self.text(block.get("text") or "")
            elif block.get("type") == "tool_use":
                arguments = orjson.dumps(block.get("input", {})).decode()
                self.obs.tool_calls.append((block.get("name", ""), arguments))
        self._stop(doc.get("stop_reason"))

    def _stop(self, reason: str | None) -> None:
        if not reason:
            return
        self.obs.finish_reason = reason
        self.obs.truncated = reason == "max_tokens"
        if reason == "refusal":
            self.obs.provider_refusal = True

    def finish(self) -> Observation:
        obs = super().finish()
        for _, (name, *pieces) in sorted(self._tools.items()):
            obs.tool_calls.append((name, "".join(pieces) or "{}"))
        return obs
