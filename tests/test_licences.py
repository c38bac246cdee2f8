"""The licence table (`playground.licences`): each model family and example clip the issue names, and the run
card's `licences` entry."""

import json

import pytest

from playground.licences import UNKNOWN, card_licences, clip_licence, licence_info, model_licence
from playground.synthetic import GALLERY


@pytest.mark.parametrize(
    "name, licence, non_commercial",
    [
        ("nvidia/AutoGaze", "NVIDIA Source Code License-NC (NSCLv1)", True),
        ("NVIDIA/autogaze", "NVIDIA Source Code License-NC (NSCLv1)", True),
        ("nvila", "CC-BY-NC-4.0", True),
        ("nvidia/NVILA-8B-HD-Video", "CC-BY-NC-4.0", True),
        ("smolvlm2-256m", "Apache-2.0", False),
        ("HuggingFaceTB/SmolVLM2-2.2B-Instruct", "Apache-2.0", False),
        ("llava-onevision-0.5b", "Apache-2.0", False),
        ("qwen3-vl-2b", "Apache-2.0", False),
        ("Qwen/Qwen3-VL-4B-Instruct", "Apache-2.0", False),
        ("qwen3.5-0.8b", "Apache-2.0", False),
        ("Qwen/Qwen3.5-2B", "Apache-2.0", False),
        ("tiny-random-qwen3.5", "Apache-2.0", False),
        ("autogaze-playground", "Apache-2.0", False),
        ("greedy", "Apache-2.0", False),
        ("paint", "Apache-2.0", False),
        ("tiny-random-smolvlm2", "Apache-2.0", False),
    ],
)
def test_model_licences(name, licence, non_commercial):
    assert model_licence(name).name == licence
    assert model_licence(name).non_commercial == non_commercial
    assert licence_info(name).startswith(f"licence: {licence}")


def test_shipped_gazer_names_its_data_and_unknown_models_say_so():
    assert "Big Buck Bunny (CC BY 3.0)" in model_licence("autogaze-playground").note
    assert model_licence("/some/checkpoint") is UNKNOWN
    assert model_licence("someone/other-model") is UNKNOWN


def test_clip_licences():
    assert clip_licence("/tmp/x/bigbuckbunny_clip.mp4").name == "CC BY 3.0"
    assert "Blender Foundation" in clip_licence("bigbuckbunny_clip.mp4").note
    for name in [*GALLERY, "synthetic_square.mp4"]:
        assert clip_licence(name).name == "none needed"
    assert clip_licence("holiday.mp4") is UNKNOWN


def test_card_licences_is_json():
    card = card_licences({"gazer": "nvidia/AutoGaze", "reconstructor": "paint"}, "bigbuckbunny_clip.mp4")
    assert card["gazer"]["non_commercial"] and card["gazer"]["model"] == "nvidia/AutoGaze"
    assert card["reconstructor"]["name"] == "Apache-2.0"
    assert card["video"]["name"] == "CC BY 3.0"
    json.dumps(card)


def test_every_run_card_carries_the_licences():
    from playground import load_gazer, load_reconstructor
    from playground.run_card import card_head

    card = card_head(
        load_gazer("greedy"), load_reconstructor("paint"), ("greedy", "paint"), {"name": "bigbuckbunny_clip.mp4"}, {}
    )
    assert card["licences"]["gazer"]["name"] == "Apache-2.0"
    assert card["licences"]["video"] == {
        "file": "bigbuckbunny_clip.mp4",
        **clip_licence("x/bigbuckbunny_clip.mp4").to_json(),
    }
