"""OpenAI chat/completions (and legacy completions): JSON bodies and `data:` chunk streams."""

from __future__ import annotations

from typing import Any

from proxy.observe.base import Observation, Observer
from rollout.quality.usage import Usage

_DONE = b"[DONE]"


class OpenAIChatObserver(Observer):
    def __init__(self, streaming: bool, capture: bool) -> None:
        super().__init__(streaming, capture)
        self._tools: dict[int, list[str]] = {}  # index -> [name, argument pieces...]

    def on_event(self, name: bytes, data: bytes) -> None:
        if data == _DONE:
            return
        chunk = self.load(data)
        if not isinstance(chunk, dict):
            return
        if "error" in chunk:
            self.obs.error_event = True
            return
        usage = chunk.get("usage")
        if usage:
            self.obs.usage = Usage.from_openai_chat(usage)
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # n > 1: the first choice speaks for the call
            delta = choice.get("delta")
            if delta is None:  # legacy completions stream text at the top level
                self.text(choice.get("text") or "")
            else:
                self._delta(delta)
            if choice.get("finish_reason"):
                self._finish(choice["finish_reason"])

    def _delta(self, delta: dict[str, Any]) -> None:
        content = delta.get("content")
        if content:
            self.text(content)
        if delta.get("refusal"):
            self.obs.provider_refusal = True
            self.first_token()
        for call in delta.get("tool_calls") or ():
            self.first_token()
            parts = self._tools.setdefault(call.get("index", 0), [""])
            function = call.get("function") or {}
            if function.get("name"):
                parts[0] = function["name"]
            if function.get("arguments"):
                parts.append(function["arguments"])

    def on_body(self, doc: dict[str, Any]) -> None:
        usage = doc.get("usage")
        if usage:
            self.obs.usage = Usage.from_openai_chat(usage)
        choices = doc.get("choices") or ()
        if not choices:
            return
        choice = choices[0]
        message = choice.get("message")
        if message is None:  # legacy completions
            self.text(choice.get("text") or "")
        else:
            self.text(message.get("content") or "")
            if message.get("refusal"):
                self.obs.provider_refusal = True
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                self.obs.tool_calls.append(
                    (function.get("name", ""), function.get("arguments", ""))
                )
        if choice.get("finish_reason"):
            self._finish(choice["finish_reason"])

    def _finish(self, reason: str) -> None:
        self.obs.finish_reason = reason
        self.obs.truncated = reason == "length"
        if reason == "content_filter":
            self.obs.provider_refusal = True

    def finish(self) -> Observation:
        obs = super().finish()
        for _, (name, *pieces) in sorted(self._tools.items()):
            obs.tool_calls.append((name, "".join(pieces)))
        return obs
