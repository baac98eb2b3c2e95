"""The IVR: a pure state machine (``machine``), self-service lookups (``lookups``) and the thin
ARI driver (``driver``) that runs one call through the configured menus."""
