"""Subcommands of the ``candlewick`` CLI (one module each; heavy imports inside ``main``)."""
