"""Simulated home devices that speak the real local APIs, for tests (see tests/fakes/devices.py)."""
