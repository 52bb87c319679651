"""Real wheel files, written here (a wheel is a zip with a dist-info folder): skill packages and a
dependency for `assistant skills install PACKAGE`, served to pip from a local folder."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def make_wheel(
    folder: Path, name: str, version: str, files: dict[str, str], requires: tuple[str, ...] = (), entry_points: str = ""
) -> Path:
    """`files`: path in the wheel → text. Returns the .whl, named as pip expects."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    members = {
        **files,
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if entry_points:
        members[f"{info}/entry_points.txt"] = entry_points
    record = []
    for path, text in members.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    members[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in members.items():
            archive.writestr(path, text)
    return wheel


FORECAST_SKILL = '''
from assistant.plugins.api import Permission, Skill, ToolResult, tool
from forecast_skill.words import sky  # the package's own module, from its unpacked wheel
from tiny_sky import cloud_cover  # a dependency the assistant does not have


class Forecast(Skill):
    name = "forecast"
    description = "Says what the sky will do."
    permissions = frozenset({Permission.STORE})

    @tool
    def sky(self) -> ToolResult:
        """What the sky will do."""
        return ToolResult(sky(cloud_cover()), {"cover": cloud_cover()})
'''


def forecast_wheels(folder: Path) -> Path:
    """forecast-skill 1.0 (an entry point, its own module, needs tiny-sky) and tiny-sky 0.3."""
    make_wheel(folder, "tiny-sky", "0.3", {"tiny_sky/__init__.py": "def cloud_cover():\n    return 0.25\n"})
    return make_wheel(
        folder,
        "forecast-skill",
        "1.0",
        {
            "forecast_skill/__init__.py": "",
            "forecast_skill/skill.py": FORECAST_SKILL,
            "forecast_skill/words.py": "def sky(cover):\n    return 'Mostly sunny.' if cover < 0.5 else 'Cloudy.'\n",
            "forecast_skill/sentences/en.yaml": 'intents:\n  sky:\n    data:\n      - sentences:\n          - "what will the sky do"\n',
        },
        requires=("tiny-sky>=0.2",),
        entry_points="[assistant.skills]\nforecast = forecast_skill.skill:Forecast\n",
    )
