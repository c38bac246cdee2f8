"""The learned-family registries (`playground.loaders`): who claims a name, in what order, and the one-line refusal.

Parametrised over `LEARNED_GAZERS` and `LEARNED_RECONSTRUCTORS`: a new learned family is tested here
(and by the invariants of test_gazers.py / test_reconstructors.py) by being registered.
"""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import FIXTURES, param_value, tiny_checkpoints

from playground import PlaygroundError, available_gazers, available_reconstructors, load_gazer, load_reconstructor
from playground.gazers import LEARNED_GAZERS, Gazer, gazer_options
from playground.loaders import Loader, claim
from playground.reconstructors import LEARNED_RECONSTRUCTORS, Reconstructor

REGISTRIES = [
    pytest.param((LEARNED_GAZERS, "gazer", load_gazer, Gazer), id="gazers"),
    pytest.param((LEARNED_RECONSTRUCTORS, "reconstructor", load_reconstructor, Reconstructor), id="reconstructors"),
]
FAMILIES = [
    pytest.param((loader, registry.values[0]), id=loader.family)
    for registry in REGISTRIES
    for loader in registry.values[0][0]
]
VIDEOMAE_WEIGHTS = FIXTURES / "videomae" / "task_state_dict.safetensors"


def _tiny(loader: Loader) -> str:
    return param_value(tiny_checkpoints([loader])[0])


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_claims_and_loads_its_tiny_checkpoint_by_folder(family):
    loader, (loaders, what, load, kind) = family
    folder = _tiny(loader)
    assert claim(loaders, folder, what).loader is loader
    model = load(folder, device="cpu")
    assert isinstance(model, kind) and model.name  # results carry a name


@pytest.mark.parametrize("registry", REGISTRIES)
def test_published_and_shipped_names_are_listed_and_claimed_without_io(registry):
    loaders, what, _, _ = registry
    listed = available_gazers() if what == "gazer" else available_reconstructors()
    for loader in loaders:
        for name in (*loader.hub_ids, *loader.shipped):
            assert name in listed
            found = claim(loaders, name.upper(), what)  # case aside
            assert found.loader is loader and found.name in (name, name.lower())


@pytest.mark.parametrize("registry", REGISTRIES)
def test_a_checkpoint_no_family_reads_is_one_line_and_runs_no_code(registry, remote_code_folder):
    _, what, load, _ = registry
    folder, marker = remote_code_folder
    with pytest.raises(PlaygroundError, match=f"no {what} family reads .*model_type 'evil_mllm'") as err:
        load(str(folder))
    assert "\n" not in str(err.value) and not marker.exists()


def test_weights_files_are_claimed_by_their_tensor_names():
    autogaze = _tiny(LEARNED_GAZERS[0])
    assert claim(LEARNED_GAZERS, f"{autogaze}/model.safetensors", "gazer").loader.family == "autogaze"
    assert claim(LEARNED_RECONSTRUCTORS, str(VIDEOMAE_WEIGHTS), "reconstructor").loader.family == "videomae"
    with pytest.raises(PlaygroundError, match="no gazer family reads"):
        claim(LEARNED_GAZERS, str(VIDEOMAE_WEIGHTS), "gazer")


def test_what_a_config_says_outranks_what_weights_suggest(tmp_path):
    first = Loader("first", "unused:load", "unused:tiny", suffixes=(".pt",))
    second = Loader("second", "unused:load", "unused:tiny", model_types=("second",))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "second"}))
    (tmp_path / "weights.pt").write_bytes(b"")
    assert claim([first, second], str(tmp_path), "gazer").loader is second
    (tmp_path / "config.json").unlink()
    assert claim([first, second], str(tmp_path), "gazer").loader is first


def test_an_unlisted_hub_id_is_claimed_from_its_cached_config(tmp_path, monkeypatch):
    commit = "0" * 40
    snapshot = tmp_path / "models--someone--TinyGaze" / "snapshots" / commit
    shutil.copytree(_tiny(LEARNED_GAZERS[0]), snapshot)
    (tmp_path / "models--someone--TinyGaze" / "refs").mkdir()
    (tmp_path / "models--someone--TinyGaze" / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gazer = load_gazer("someone/TinyGaze", cache_dir=tmp_path)
    assert gazer.source == "someone/TinyGaze" and gazer.name == "autogaze"  # not a published id: the family's name


def test_autogaze_options_are_those_of_its_loader_and_gazer():
    assert (
        gazer_options("nvidia/AutoGaze")
        == gazer_options("autogaze-playground")
        == {
            "bf16",
            "cache_dir",
            "calibration",
            "clip_len",
            "config",
            "predict_loss",
            "revision",
            "seed",
            "static",
            "stop",
        }
    )
