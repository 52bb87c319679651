"""Simulated home devices that speak the real local APIs, for tests (see testbed/fakes/devices.py)."""
