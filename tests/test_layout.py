"""The house's shape, checked: packages that name the parts, imports that flow one way (the layers in
pyproject.toml's [tool.importlinter]), and the shipped files the code finds beside itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_only_the_entry_point_and_packages_at_the_top() -> None:
    loose = sorted(p.name for p in (ROOT / "assistant").glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert loose == [], f"modules outside a package: {loose}"
    packages = sorted(p.name for p in (ROOT / "assistant").iterdir() if (p / "__init__.py").exists())
    assert {
        "cli",
        "app",
        "voice",
        "speech",
        "understanding",
        "plugins",
        "scheduling",
        "routines",
        "devices",
        "media",
        "knowledge",
        "web",
        "wyoming",
        "trust",
        "language",
        "core",
        "audio",
    } <= set(packages)


def test_imports_flow_one_way() -> None:
    done = subprocess.run(
        [str(BIN / "lint-imports"), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_shipped_config_and_routines_are_found() -> None:
    from assistant.core.config import DEFAULT_FILE
    from assistant.routines.host import SHIPPED

    assert DEFAULT_FILE == ROOT / "config" / "default.yaml" and DEFAULT_FILE.is_file()
    assert SHIPPED == ROOT / "config" / "routines" and any(SHIPPED.glob("*.yaml"))


def test_every_built_in_skill_loads_through_the_entry_point_group() -> None:
    from assistant.plugins.registry import builtin_skill_classes

    folders = sorted(p.parent.name for p in (ROOT / "skills").glob("*/skill.py"))
    assert sorted(c.__module__.split(".")[1] for c in builtin_skill_classes()) == folders


CHECKED = ["assistant", "skills", "tests", "testbed", "scripts", "examples", "docs/hooks"]


def test_ruff_lint_and_format() -> None:
    lint = subprocess.run([str(BIN / "ruff"), "check", *CHECKED], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout[-4000:]
    formatted = subprocess.run(
        [str(BIN / "ruff"), "format", "--check", *CHECKED], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert formatted.returncode == 0, formatted.stdout[-4000:]


def test_mypy() -> None:
    """Types checked over assistant/ and skills/, strict on the foundations ([tool.mypy] in pyproject.toml)."""
    done = subprocess.run([str(BIN / "mypy")], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:]
