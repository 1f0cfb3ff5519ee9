"""Sticky cohorts: which arm a subject is on, from a stable hash and what the store remembers.

The bucket of a subject is a number in [0, 1) derived from (salt, subject) alone:

    digest = SHA-256(utf8(salt) + b"\\x1f" + utf8(subject))
    bucket = (first 8 bytes of digest, big-endian, shifted right by 11 bits) / 2**53

so it is the same on every replica, in every language, forever
(tests/rollout/targeting/test_cohorts.py pins a table of expected values). A subject is on the
candidate iff bucket < weight: raising the weight only ever adds subjects. Lowering it does not
take anyone back: a subject that was on the candidate stays there (the store remembers) until a
rollback or a new rollout version.

The store remembers a subject under a digest, never the subject itself (a user id, an email):

    stored = hex(BLAKE2b-128(utf8(scope) + b"\x1f" + utf8(subject)))

It keeps people's identifiers out of Redis keys and dumps. It is not keyed: someone who can read
the store and guess an identifier can check the guess.
"""

from __future__ import annotations

from hashlib import blake2b, sha256


def bucket(salt: str, subject: str) -> float:
    """The subject's place in [0, 1) for this salt."""
    digest = sha256(f"{salt}\x1f{subject}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / 9007199254740992.0  # 2**53


def stored_subject(scope: str, subject: str) -> str:
    """What the store keeps of a subject's sticky assignment in `scope` (see the module doc)."""
    return blake2b(f"{scope}\x1f{subject}".encode(), digest_size=16).hexdigest()


def hash_arm(position: float, weight: float) -> str:
    return "candidate" if position < weight else "baseline"


def may_be_remembered(position: float, weight: float, max_weight: float) -> bool:
    """Could the store hold a candidate record for this subject that the hash no longer gives?

    Only when the weight went down since: subjects between today's weight and the highest weight
    this rollout version ever had. Everyone else needs no store lookup at all.
    """
    return weight <= position < max_weight
