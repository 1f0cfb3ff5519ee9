"""Distinct candidate subjects per rollout, for the plan's `min_subjects`.

A stage's minimum sample may ask for distinct subjects as well as requests: 500 requests from
3 users say little about everyone else. A replica collects the subjects its candidate calls came
from, per (rollout, time bucket) in memory (`SubjectAggregator`, nothing but a set add on the
request path), and a flusher (proxy/subject_flusher.py) drains them once per interval, hashes
them, and makes one `store.subjects.add` per rollout. The controller asks the store how many
distinct subjects the stage's buckets saw (`candidate_subjects`), merged across replicas.

Subjects are never stored raw: a subject taken from a header or body field is often a user id
or an e-mail address. Each is hashed with a keyed BLAKE2b (`hash_subject`), whose 32-byte key is
random, made once per store and kept in it as the document `subjects/hash_key`, so that every
replica and every restart hashes a subject alike (a subject must count once, whichever replica
saw it) while the hashes, without the key, cannot be tested against a list of guesses. On
Redis the hashes only feed HyperLogLogs, which keep no element at all.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Collection

from rollout.config.plan import Plan
from rollout.control.decide import TERMINAL, RolloutState
from rollout.errors import StoreError
from rollout.store.base import Documents, SubjectCounts

KEY_DOCUMENT = "subjects/hash_key"
# Longer subjects are shortened to a digest on the request path, so that the memory a bucket
# holds is bounded by MAX_PER_BUCKET short strings, whatever the clients send.
SHORT = 64
MAX_PER_BUCKET = 50_000  # distinct subjects per (rollout, bucket) and replica, beyond: dropped

Bucketed = dict[tuple[str, int], set[str]]  # (rollout, bucket start) -> subjects


class SubjectAggregator:
    """The subjects of candidate calls since the last drain, per (rollout, bucket).

    Beyond `max_per_bucket` new subjects in one bucket are dropped and counted in `dropped`:
    the count can only come out low, which holds a ramp longer, never promotes it too early."""

    def __init__(self, bucket_seconds: int = 10, max_per_bucket: int = MAX_PER_BUCKET) -> None:
        self.bucket_seconds, self.max_per_bucket = bucket_seconds, max_per_bucket
        self.dropped = 0
        self._buckets: Bucketed = {}

    def add(self, rollout: str, subject: str, now: float) -> None:
        key = (rollout, int(now // self.bucket_seconds) * self.bucket_seconds)
        seen = self._buckets.get(key)
        if seen is None:
            seen = self._buckets[key] = set()
        if len(subject) > SHORT:
            subject = _shorten(subject)
        if len(seen) < self.max_per_bucket:
            seen.add(subject)
        elif subject not in seen:
            self.dropped += 1

    def drain(self) -> Bucketed:
        """Everything added since the last drain."""
        drained, self._buckets = self._buckets, {}
        return drained


def _shorten(subject: str) -> str:
    return "#" + hashlib.blake2b(subject.encode(), digest_size=16).hexdigest()


def hash_subject(key: bytes, subject: str) -> str:
    """The keyed hash stored in place of a subject: 64 bits, as hex (a collision among a
    million subjects has odds of about 1 in 30 million)."""
    return hashlib.blake2b(subject.encode(), key=key, digest_size=8).hexdigest()


def hash_subjects(key: bytes, subjects: Collection[str]) -> list[str]:
    return [hash_subject(key, s) for s in subjects]


async def load_hash_key(documents: Documents) -> bytes:
    """The store's subject key, made on first use (the first writer wins; others read it).
    Raises StoreError."""
    for _ in range(3):
        doc, _rev = await documents.read(KEY_DOCUMENT)
        if doc is not None:
            try:
                return bytes.fromhex(doc["key"])
            except (KeyError, TypeError, ValueError) as exc:
                raise StoreError(f"the store's {KEY_DOCUMENT} is not a hex key") from exc
        key = secrets.token_bytes(32)
        if await documents.write(KEY_DOCUMENT, {"key": key.hex()}, 0) is not None:
            return key
    raise StoreError(f"the store's {KEY_DOCUMENT} keeps changing")


async def candidate_subjects(
    subjects: SubjectCounts, rollout: str, plan: Plan, state: RolloutState
) -> int | None:
    """Distinct candidate subjects since the stage began (the bucket straddling its start left
    out, as for the metric windows), or None when the stage asks for none: no round trip then.
    Raises StoreError."""
    if state.phase in ("pending", "shadow", *TERMINAL) or state.weight <= 0.0:
        return None
    if plan.needs(state.stage).min_subjects is None:
        return None
    return await subjects.count(rollout, math.ceil(state.since))
