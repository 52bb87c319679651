"""Thin adapters over the speech models. Their methods are synchronous; callers run them off the event loop."""
