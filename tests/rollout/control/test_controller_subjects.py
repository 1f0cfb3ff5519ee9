"""min_subjects end to end on the store: the controller counts the distinct candidate subjects
the stage's buckets saw (both stores; Redis with its HyperLogLogs) and holds until there are
enough. Subjects are fed as the proxy's flusher sends them: already hashed."""

from __future__ import annotations

from rollout.config.rollouts import Rollout
from rollout.control.controller import Controller
from rollout.control.subject_counts import hash_subjects
from rollout.store import Store
from tests.rollout.control.test_controller import INTERVAL, PLAN, Clock, traffic

ROLLOUT = Rollout.model_validate(
    {
        "name": "subj",
        "candidate": {"model": "m2"},
        "plan": PLAN.model_copy(update={"min_subjects": 50}),
    }
)
KEY = b"k" * 32


async def subjects_seen(store: Store, at: float, users: range) -> None:
    """Every user in `users` made candidate calls in the bucket holding `at`."""
    bucket = int(at // INTERVAL * INTERVAL)
    await store.subjects.add(
        ROLLOUT.name, {bucket: hash_subjects(KEY, [f"user-{u}" for u in users])}
    )


async def look(ctl: Controller, clock: Clock, users: range) -> tuple[str, float, tuple[str, ...]]:
    """Send one interval of good traffic from `users`, move the clock on, look."""
    await traffic(ctl.store, clock.now, None, rollout=ROLLOUT.name)
    await subjects_seen(ctl.store, clock.now, users)
    clock.now += INTERVAL
    decision = (await ctl.step())[ROLLOUT.name]
    return decision.action, decision.state.weight, decision.reasons


async def test_a_stage_holds_until_it_has_seen_enough_distinct_subjects(store: Store) -> None:
    clock = Clock()
    ctl = Controller(store, [ROLLOUT], clock)
    assert (await ctl.step())[ROLLOUT.name].action == "promote"  # start: 1%
    # 1000 good calls, but from 10 users only: every gate passes, the stage waits.
    assert await look(ctl, clock, range(10)) == ("hold", 0.01, ("10 of 50 candidate subjects",))
    # 50 more users, and the first 10 again (counted once): 60 distinct over the stage, enough
    # with a margin for Redis's HyperLogLog (about 1% off, here 50 reads as 49).
    assert (await look(ctl, clock, range(60)))[:2] == ("promote", 0.05)
    # The new stage counts from its own start: the 50 seen before do not count again.
    assert await look(ctl, clock, range(45, 55)) == ("hold", 0.05, ("10 of 50 candidate subjects",))


async def test_no_subjects_at_all_never_passes(store: Store) -> None:
    clock = Clock()
    ctl = Controller(store, [ROLLOUT], clock)
    await ctl.step()
    for _ in range(3):
        assert await look(ctl, clock, range(0)) == ("hold", 0.01, ("0 of 50 candidate subjects",))
