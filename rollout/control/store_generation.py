"""Which generation of the store this is: evidence that the store lost its data.

A store can lose everything it held while the processes that use it keep running: Redis
restarted without persistence, a FLUSHALL, a failover to an empty replica, the embedded store's
data directory deleted. Read from inside, such a store looks exactly like one that never held
anything. The document `store/generation` tells the two apart: a random id, written once by the
first reader (the first writer wins, the others read it). A store that loses its data loses this
document with the rest, and the next reader writes a new id; a process that saw another id
before knows the store lost its data since (rollout/control/state_keeper.py acts on that).
"""

from __future__ import annotations

import secrets
import time

from rollout.errors import StoreError
from rollout.store.base import Documents

GENERATION_KEY = "store/generation"
_ATTEMPTS = 3


async def store_generation(documents: Documents) -> str:
    """The store's generation id, made on first use. Raises StoreError."""
    for _ in range(_ATTEMPTS):
        doc, _rev = await documents.read(GENERATION_KEY)
        if doc is not None:
            found = doc.get("id")
            if not isinstance(found, str) or not found:
                raise StoreError(f"the store's {GENERATION_KEY} has no id", op="documents.read")
            return found
        new = secrets.token_hex(8)
        if await documents.write(GENERATION_KEY, {"id": new, "since": time.time()}, 0) is not None:
            return new
    raise StoreError(f"the store's {GENERATION_KEY} keeps changing", op="documents.write")
