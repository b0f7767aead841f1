"""What every screen that renders the daemon's state shares (attributes down, messages up).

A screen never calls the app: it reads the state the app holds through :class:`StateHolder`,
paints it with :meth:`ShowsState.show` once composed, and asks for actions by posting the
request messages of :mod:`candlewick.tui.messages`, which bubble up to the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from textual.screen import ModalScreen, Screen

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from candlewick.tui.state import DashboardState


@runtime_checkable
class StateHolder(Protocol):
    """The app as screens see it: the state to render and how often it retries attaching."""

    state: DashboardState
    retry_interval: float


class ShowsState:
    """A screen painted from the dashboard's state: on mount, on resume and on every repaint."""

    #: Set once composed: the app repaints a screen only from then on.
    ready = False

    def show(self, state: DashboardState) -> None:
        """Render ``state``; a pure function of it."""
        raise NotImplementedError

    def first_shown(self) -> None:
        """Called once after the first paint (focus, timers); nothing by default."""

    def holder(self) -> StateHolder | None:
        """The app's state holder (``None`` under an app that is not the dashboard)."""
        app = cast("DOMNode", self).app
        return app if isinstance(app, StateHolder) else None

    def on_mount(self) -> None:
        self.ready = True
        holder = self.holder()
        if holder is not None:
            self.show(holder.state)
        self.first_shown()

    def on_screen_resume(self) -> None:
        holder = self.holder()
        if self.ready and holder is not None:
            self.show(holder.state)


class DashboardScreen(ShowsState, Screen[None]):
    """A full screen of the dashboard."""


class DashboardModal(ShowsState, ModalScreen[None]):
    """A dialog of the dashboard that updates while it is open."""
