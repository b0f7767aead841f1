"""The dashboard's widgets, one per module; each renders from the state it is shown."""
