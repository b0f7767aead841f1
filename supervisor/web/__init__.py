"""The HTTP API and web dashboard: a read-only Starlette app served by hypercorn inside the daemon.

Off unless ``[web] listen`` is set; its dependencies come with ``pip install 'candlewick[web]'``.
The daemon imports this package only when the section is configured.
"""
