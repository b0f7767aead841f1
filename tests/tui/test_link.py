"""The link's reading of why a session ended: lost links re-attach, bugs keep their traceback."""

from __future__ import annotations

import pytest

from candlewick.control.client import START_HINT
from candlewick.control.protocol import RpcError
from candlewick.errors import ControlError, DaemonUnreachable
from candlewick.tui.link import link_error


def test_control_errors_give_their_message_without_the_start_hint() -> None:
    """The disconnected screen says how to start the daemon; other advice is kept."""
    err = DaemonUnreachable("no candlewick daemon answers on /x.sock (no socket there)", hint=START_HINT)
    assert link_error(err) == "no candlewick daemon answers on /x.sock (no socket there)"
    denied = DaemonUnreachable("permission denied on the control socket /x.sock", hint="run as that user")
    assert link_error(denied) == "permission denied on the control socket /x.sock (run as that user)"
    assert link_error(RpcError(-32008, "too many clients")) == "too many clients"


def test_errors_wrapped_by_task_groups_are_unwrapped() -> None:
    """A connection lost inside the client's task group arrives as an ExceptionGroup."""
    group = ExceptionGroup("lost", [ExceptionGroup("inner", [ControlError("the daemon closed the connection")])])
    assert link_error(group) == "the daemon closed the connection"
    assert link_error(ConnectionResetError(104, "reset")) == "ConnectionResetError: [Errno 104] reset"


@pytest.mark.parametrize(
    "exc",
    [KeyError("bug"), ExceptionGroup("mixed", [ControlError("lost"), ZeroDivisionError()])],
    ids=["bug", "mixed-group"],
)
def test_bugs_are_not_mistaken_for_a_lost_link(exc: BaseException) -> None:
    assert link_error(exc) is None
