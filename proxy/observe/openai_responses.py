"""OpenAI Responses API: a JSON response object, or a stream of typed events."""

from __future__ import annotations

from typing import Any

from proxy.observe.base import Observer
from rollout.quality.usage import Usage


class OpenAIResponsesObserver(Observer):
    def on_event(self, name: bytes, data: bytes) -> None:
        event = self.load(data)
        if not isinstance(event, dict):
            return
        kind = event.get("type", "")
        if kind == "response.output_text.delta":
            self.text(event.get("delta") or "")
        elif kind == "response.refusal.delta":
            self.obs.provider_refusal = True
            self.first_token()
        elif kind == "response.function_call_arguments.delta":
            self.first_token()
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self._response(event.get("response") or {}, from_stream=True)
        elif kind == "error":
            self.obs.error_event = True

    def on_body(self, doc: dict[str, Any]) -> None:
        self._response(doc, from_stream=False)

    def _response(self, response: dict[str, Any], from_stream: bool) -> None:
        usage = response.get("usage")
        if usage:
            self.obs.usage = Usage.from_openai_responses(usage)
        status = response.get("status")
        details = response.get("incomplete_details") or {}
        self.obs.finish_reason = details.get("reason") or status
        self.obs.truncated = details.get("reason") == "max_output_tokens"
        for item in response.get("output") or ():
            kind = item.get("type")
            if kind == "function_call":
                self.obs.tool_calls.append((item.get("name", ""), item.get("arguments", "")))
            elif kind == "message":
                for part in item.get("content") or ():
                    if part.get("type") == "refusal":
                        self.obs.provider_refusal = True
                    elif part.get("type") == "output_text" and not from_stream:
                        self.text(part.get("text") or "")
