"""The pretrained catalogue: where models are found, what a missing one says, the install size."""

import os
import shutil
from pathlib import Path

import pytest

from kaq_sionna import pretrained

PACKAGE_LIMIT_MB = 60


def _size_mb(folder):
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()) / 2 ** 20


def test_package_data_stays_under_the_install_limit():
    # everything under kaq_sionna/ is installed (models included); the large models are not
    package = Path(pretrained.__file__).resolve().parents[1]
    assert _size_mb(package) < PACKAGE_LIMIT_MB
    for name in pretrained.LARGE_MODELS:
        assert not (pretrained.MODELS_DIR / name).exists()


def test_large_models_are_found_in_the_repository():
    for name in pretrained.LARGE_MODELS:
        assert pretrained.model_dir(name) == pretrained.REPOSITORY_MODELS_DIR / name
        assert name in pretrained.available()


def test_a_missing_large_model_says_where_it_is_kept(monkeypatch, tmp_path):
    monkeypatch.setattr(pretrained, "REPOSITORY_MODELS_DIR", tmp_path / "absent")
    monkeypatch.delenv(pretrained.ENV_VAR, raising=False)
    name = next(iter(pretrained.LARGE_MODELS))
    assert name not in pretrained.available()
    with pytest.raises(KeyError, match="not part of the installed package.*KAQ_SIONNA_MODELS"):
        pretrained.model_dir(name)


def test_models_on_the_environment_path_are_found(monkeypatch, tmp_path):
    source = pretrained.model_dir("pgdnet-kaq8-4x4-16qam")
    shutil.copytree(source, tmp_path / "my-model")
    monkeypatch.setenv(pretrained.ENV_VAR, os.pathsep.join([str(tmp_path / "none"),
                                                             str(tmp_path)]))
    assert pretrained.model_dir("my-model") == tmp_path / "my-model"
    assert pretrained.config("my-model") == pretrained.config("pgdnet-kaq8-4x4-16qam")


def test_an_unknown_model_lists_the_shipped_ones():
    with pytest.raises(KeyError, match="no pretrained model named 'nope'.*pgdnet-kaq8-4x4-16qam"):
        pretrained.model_dir("nope")
