"""Find the subject, the unit of stickiness for cohorts: who is asking, never their secret.

Order: OpenAI's `user` field, Anthropic's `metadata.user_id`, else a hash of the API key.
"""

from __future__ import annotations

from hashlib import blake2b

from proxy.exchange import Exchange


class Identify:
    name = "identify"

    async def __call__(self, ex: Exchange) -> None:
        ex.subject = subject_of(ex)


def subject_of(ex: Exchange) -> str | None:
    payload = ex.payload
    if payload is not None:
        user = payload.get("user")
        if isinstance(user, str) and user:
            return "user:" + user
        metadata = payload.get("metadata")
        if isinstance(metadata, dict):
            user_id = metadata.get("user_id")
            if isinstance(user_id, str) and user_id:
                return "user:" + user_id
    headers = ex.request.headers
    key = headers.get("authorization") or headers.get("x-api-key")
    return None if not key else "key:" + key_fingerprint(key)


def key_fingerprint(secret: str) -> str:
    """A short, stable, one-way fingerprint: enough to tell keys apart, useless to an attacker."""
    return blake2b(secret.encode(), digest_size=8, person=b"llm-rollout").hexdigest()
