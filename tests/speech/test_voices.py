"""voices/: the manifest of the packaged Piper voices, and a voice of one's own put in the folder."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from assistant.core import models
from assistant.core.errors import ModelNotFoundError


def test_every_packaged_voice_is_installed_with_its_checksum_and_licence() -> None:
    assert "en_US-joe-medium" in models.PIPER_VOICES
    for name, entry in models.PIPER_VOICES.items():
        resolved = models.resolve_piper_voice(name)
        assert resolved.path.is_file() and Path(f"{resolved.path}.json").is_file()
        assert hashlib.sha256(resolved.path.read_bytes()).hexdigest() == entry.sha256
        assert entry.licence and entry.pip.split("==")[0].replace("-", "_") == entry.package


def test_a_voice_put_in_the_folder_is_known_by_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = models.resolve_piper_voice("en_US-joe-medium").path
    shutil.copy(shipped, tmp_path / "kitchen-voice.onnx")
    (tmp_path / "kitchen-voice.onnx.json").write_text(json.dumps(json.loads(Path(f"{shipped}.json").read_text())))
    monkeypatch.setattr(models, "VOICES_DIR", tmp_path)
    assert models.resolve_piper_voice("kitchen-voice").path == tmp_path / "kitchen-voice.onnx"
    with pytest.raises(ModelNotFoundError, match="use en_US-joe-medium, kitchen-voice, a voice file put in"):
        models.resolve_piper_voice("attic-voice")


def test_a_voice_without_its_json_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "half.onnx").write_bytes(b"not a voice")
    monkeypatch.setattr(models, "VOICES_DIR", tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"half.onnx has no half.onnx.json beside it"):
        models.resolve_piper_voice("half")


def test_a_broken_manifest_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "voices.yaml").write_text("joe:\n  package: x\n")
    with pytest.raises(ModelNotFoundError, match="needs package, pip, file, sha256 and licence"):
        models._piper_voices(tmp_path / "voices.yaml")
    (tmp_path / "voices.yaml").write_text("- en_US-joe-medium\n")
    with pytest.raises(ModelNotFoundError, match="must map each voice's name to its entry"):
        models._piper_voices(tmp_path / "voices.yaml")
    (tmp_path / "voices.yaml").write_bytes(b"\xff\xfe: [")
    with pytest.raises(ModelNotFoundError, match="cannot be read"):
        models._piper_voices(tmp_path / "voices.yaml")
