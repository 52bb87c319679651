"""The simulated household the tests and the benchmarks share: rendered speech and rooms, fake
devices that speak the real local APIs, satellites, documents, a media library, PulseAudio null sinks,
network namespaces, a browser, and the third-party skills the sandbox tests install."""

from pathlib import Path

SKILLS = Path(__file__).resolve().parent / "skills"
"""Third-party skills as a household would install them (greeter, household, kitchen, librarian, prober)."""
