"""GazeResult: the official dict round trip on the reference vectors, masks, counts, JSON."""

import json

import pytest
import torch
from conftest import FIXTURES

from playground import GazeResult, PlaygroundError, concat_frames
from playground.geometry import grid_for

CASE_FILES = sorted((FIXTURES / "reference_cases").glob("*_cases.json"))


def reference_cases():
    for path in CASE_FILES:
        for name, case in json.loads(path.read_text())["cases"].items():
            if "num_gazing_each_frame" in case:
                yield pytest.param(case, id=f"{path.stem}-{name}")


def grid_of(case):
    kw = case["kwargs"]
    return grid_for(kw.get("target_scales"), kw.get("target_patch_size"))


@pytest.mark.parametrize("case", list(reference_cases()))
def test_official_round_trip(case):
    result = GazeResult.from_official(case, grid_of(case))
    official = result.to_official()
    assert official["gazing_pos"].dtype == torch.int64 and official["if_padded_gazing"].dtype == torch.bool
    assert official["num_gazing_each_frame"].dtype == torch.int64
    assert official["gazing_pos"].tolist() == case["gazing_pos"]
    assert official["if_padded_gazing"].tolist() == case["if_padded_gazing"]
    assert official["num_gazing_each_frame"].tolist() == case["num_gazing_each_frame"]
    again = GazeResult.from_json(json.loads(json.dumps(result.to_json())))
    assert torch.equal(again.gazing_pos, result.gazing_pos) and again.grid == result.grid
    # Masks: every non-padded id lands in exactly one slot; counts agree with the flags.
    assert torch.equal(result.counts().sum(1), (~result.if_padded_gazing).sum(1))
    assert sum(m.sum() for m in result.masks()) == result.num_gazed


def test_from_frame_slots_pads_like_the_reference():
    r = GazeResult.from_frame_slots([[[5, 7], [1]], [[3], [2, 9, 4]]])
    assert r.num_gazing_each_frame.tolist() == [2, 3]
    assert r.gazing_pos.tolist() == [[5, 7, 265 + 1, 530, 530], [3, 265, 265 + 2, 265 + 9, 265 + 4]]
    assert r.if_padded_gazing.tolist() == [[False, False, False, True, True], [False, True, False, False, False]]
    assert r.frame_slots(1, 1).tolist() == [2, 9, 4]
    assert r.counts().tolist() == [[2, 1], [1, 3]]
    assert r.clip(1).num_gazing_each_frame.tolist() == [1, 3]


def test_concat_frames_offsets_local_ids():
    frames = [GazeResult.from_frame_slots([[[t, t + 1]]]) for t in range(3)]
    joined = concat_frames(frames)
    assert joined.gazing_pos.tolist() == [[0, 1, 266, 267, 532, 533]]
    assert joined.num_frames == 3


def test_concat_frames_of_multi_frame_chunks_equals_the_whole():
    whole = GazeResult.from_frame_slots([[[0, 5], [7], [], [264, 1, 2]], [[3], [8, 9], [4], [0]]])
    chunks = [
        GazeResult.from_frame_slots([[whole.frame_slots(b, t).tolist() for t in ts] for b in range(2)])
        for ts in ([0, 1], [2, 3])
    ]
    joined = concat_frames(chunks)
    assert torch.equal(joined.gazing_pos, whole.gazing_pos)
    assert torch.equal(joined.if_padded_gazing, whole.if_padded_gazing)
    assert joined.num_gazing_each_frame.tolist() == whole.num_gazing_each_frame.tolist()


def test_inconsistent_dicts_raise():
    with pytest.raises(PlaygroundError):
        GazeResult([[1, 2]], [[False]], [2])
    with pytest.raises(PlaygroundError):
        GazeResult([[1, 2]], [[False, False]], [3])
    with pytest.raises(PlaygroundError):
        GazeResult.from_official({"gazing_pos": [[1]]})


def test_json_reader_bounds_depth_and_size_in_one_line(tmp_path, monkeypatch):
    from playground import jsonio

    deep = "[" * 200_000 + "]" * 200_000
    with pytest.raises(PlaygroundError, match="nested 200,000 levels deep") as err:
        jsonio.parse(deep, "x")
    assert "\n" not in str(err.value)
    assert jsonio.parse('{"a": "[[[[\\"{{", "b": [[1]]}') == {"a": '[[[["{{', "b": [[1]]}
    assert jsonio.json_depth('{"a": "[[[[", "b": [[1]]}') == 3
    (tmp_path / "gaze.json").write_text(deep)
    with pytest.raises(PlaygroundError, match="gaze file .* nested"):
        GazeResult.from_json(str(tmp_path / "gaze.json"))
    monkeypatch.setattr(jsonio, "MAX_JSON_BYTES", 10)
    with pytest.raises(PlaygroundError, match="over the limit of 10"):
        jsonio.read_json(tmp_path / "gaze.json")
