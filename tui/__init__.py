"""The terminal dashboard: ``candlewick tui``, a Textual app attached to the daemon's control socket.

It imports :mod:`candlewick.control` (the client side) and nothing else of the daemon::

    from candlewick.tui import CandlewickApp

    CandlewickApp(Path("/run/candlewick/control.sock")).run()

Layout: :mod:`~candlewick.tui.state` (the view-model, pure), :mod:`~candlewick.tui.view`
(rendering, pure), :mod:`~candlewick.tui.link` (the attachment, run in workers),
:mod:`~candlewick.tui.messages`, :mod:`~candlewick.tui.forms` (validation, pure), and one
module per screen and widget.
"""

from candlewick.tui.app import CandlewickApp

__all__ = ["CandlewickApp"]
