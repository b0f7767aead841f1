"""The dashboard's screens: overview, market chart, disconnected, and the dialogs (one per module)."""
