"""The job queue's rules, without a clock: order, preemption, retries, outcomes."""

from __future__ import annotations

import pytest

from candlewick.gaps.jobs import STARTUP, URGENT, USER, Job, JobKind, JobState
from candlewick.gaps.queue import JobQueue, Outcome, RetryRule

NOW = 1_700_000_000.0


def queued(queue: JobQueue, priority: int, *, horizon: int = 0, created: float = NOW) -> Job:
    job = queue.new(JobKind.REPAIR, "BTC", "1m", 0, 60_000, priority=priority, horizon=horizon, now=created)
    queue.submit([job])
    return job


def test_the_most_urgent_runnable_job_runs_first() -> None:
    """Priority first, then the horizon, then the older job."""
    queue = JobQueue()
    user = queued(queue, USER)
    late = queued(queue, STARTUP, horizon=2_000)
    soon = queued(queue, STARTUP, horizon=1_000, created=NOW + 1)
    assert queue.next_runnable(NOW) == (soon, None)
    queue.start(soon, now=NOW, mono=0.0)
    assert queue.next_runnable(NOW) == (late, None)
    queue.start(late, now=NOW, mono=0.0)
    assert queue.next_runnable(NOW) == (user, None)


def test_a_job_waiting_for_its_retry_says_how_long() -> None:
    """Nothing runnable: the seconds until the first job may start; nothing queued: ``None``."""
    queue = JobQueue()
    assert queue.next_runnable(NOW) == (None, None)
    job = queued(queue, USER)
    job.not_before = NOW + 30
    assert queue.next_runnable(NOW) == (None, 30)
    assert queue.next_runnable(NOW + 30) == (job, None)


def test_a_running_job_is_outranked_only_by_a_more_urgent_runnable_one() -> None:
    queue = JobQueue()
    running = queued(queue, STARTUP)
    queue.start(running, now=NOW, mono=0.0)
    assert not queue.outranked(running, NOW)
    queued(queue, USER)
    assert not queue.outranked(running, NOW), "a less urgent job never preempts"
    urgent = queued(queue, URGENT)
    urgent.not_before = NOW + 5
    assert not queue.outranked(running, NOW), "not before its time"
    assert queue.outranked(running, NOW + 5)


def test_the_retry_rule_doubles_up_to_a_cap_and_gives_up() -> None:
    rule = RetryRule(initial=5, maximum=60, max_attempts=3)
    assert [rule.delay(n) for n in range(6)] == [5, 10, 20, 40, 60, 60]
    assert rule.outcome(0, transient=True) is Outcome.RETRY
    assert rule.outcome(2, transient=True) is Outcome.RETRY
    assert rule.outcome(3, transient=True) is Outcome.FAILED
    assert rule.outcome(0, transient=False) is Outcome.FAILED


def test_settling_a_retry_queues_the_job_again_later() -> None:
    queue = JobQueue(retry=RetryRule(initial=5, maximum=300))
    job = queued(queue, USER)
    for attempt, delay in enumerate((5, 10, 20)):
        queue.start(job, now=NOW, mono=0.0)
        settled = queue.settle(job, Outcome.RETRY, "429", now=NOW, mono=1.0)
        assert not settled.final
        assert settled.delay == delay
        assert (job.state, job.attempts, job.error) == (JobState.QUEUED, attempt + 1, "429")
        assert job.not_before == NOW + delay


def test_settling_a_preempted_job_queues_it_again_at_once() -> None:
    queue = JobQueue()
    job = queued(queue, USER)
    queue.start(job, now=NOW, mono=0.0)
    settled = queue.settle(job, Outcome.PREEMPTED, now=NOW + 1, mono=1.0)
    assert (settled.final, settled.delay) == (False, 0.0)
    assert (job.state, job.attempts, job.not_before) == (JobState.QUEUED, 0, 0.0)
    assert queue.next_runnable(NOW + 1) == (job, None)


@pytest.mark.parametrize(
    ("outcome", "state"),
    [(Outcome.DONE, JobState.DONE), (Outcome.FAILED, JobState.FAILED), (Outcome.CANCELLED, JobState.CANCELLED)],
)
def test_final_outcomes_finish_the_job(outcome: Outcome, state: JobState) -> None:
    queue = JobQueue()
    job = queued(queue, USER)
    queue.start(job, now=NOW, mono=0.0)
    job.fetched = 10
    settled = queue.settle(job, outcome, "why" if outcome is Outcome.FAILED else None, now=NOW + 9, mono=4.0)
    assert settled.final
    assert (job.state, job.finished, job.active) == (state, NOW + 9, False)
    assert job.eta(5.0) is None


def test_finished_jobs_beyond_the_limit_are_forgotten_active_ones_never() -> None:
    queue = JobQueue(keep_finished=2)
    jobs = [queued(queue, USER) for _ in range(5)]
    for job in jobs[:4]:
        queue.finish(job, JobState.DONE, now=NOW, mono=0.0)
    queue.submit([])
    assert sorted(queue.jobs) == ["3", "4", "5"]
    assert [j.id for j in queue.active()] == ["5"]


def test_ids_continue_after_the_loaded_jobs_and_unknown_ids_are_refused() -> None:
    queue = JobQueue()
    queue.load([Job("7", JobKind.USER, "BTC", "1m", 0, 0)], next_id=8)
    assert queued(queue, USER).id == "8"
    assert queue.get("7").id == "7"
    with pytest.raises(LookupError, match="9999"):
        queue.get("9999")


def test_the_job_dict_keeps_plain_strings() -> None:
    """``backfill.list`` payloads: kind and state are the contract's strings, not enum members."""
    queue = JobQueue()
    job = queued(queue, STARTUP)
    payload = job.to_dict(0.0)
    assert (type(payload["kind"]), type(payload["state"])) == (str, str)
    assert (payload["kind"], payload["state"]) == ("repair", "queued")
    assert [j.id for j in queue.newest_first()] == [job.id]
    assert queue.spans_of(("BTC", "1m")) == [(0, 60_000)]
    assert queue.spans_of(("ETH", "1m")) == []
