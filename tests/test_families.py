"""What every MLLM family must do: `FamilyTesterMixin`, and one small tester per registered family.

In the spirit of diffusers' `PipelineTesterMixin`: a family's tester names its `Family` class, the
function that saves its tiny random model (`random_models.py`) and the two facts the checks need
that the family does not state itself (the stock model's keyword for video pixels, and how the
prompt lays out its placeholder runs). The mixin loads the saved model through `load_mllm` (the
real loading code) and checks the family's methods against the real model: exactness of the gazed
encoder, the stock answer, FLOPs (analytic vs measured, and from the config alone), the LLM token
rules, the prompt's placeholders, and the post-ViT pruning conditions (EVS, uniform and random
dropping at the gazed answer's LLM tokens). Tiny models, 2 frames, 1-2 new tokens.
"""

from __future__ import annotations

import re
from itertools import groupby

import numpy as np
import pytest
import torch

from playground import GazeResult, PlaygroundError, load_gazer, load_mllm
from playground.mllm import FAMILIES, estimate_flops
from playground.mllm.families import (
    Family,
    LlavaOnevisionFamily,
    Qwen3VLFamily,
    Qwen35Family,
    SmolVLMFamily,
    family_for,
)
from playground.mllm.flops import GATED_DELTA_CHUNK, StageCounter, llm_decode_flops, llm_prefill_flops
from playground.mllm.gazed_vit import gazed_tokens
from playground.mllm.pruning import PRUNING_METHODS
from playground.mllm.random_models import (
    save_tiny_llava_onevision,
    save_tiny_qwen3_5,
    save_tiny_qwen3_vl,
    save_tiny_smolvlm,
)

QUESTION = "What happens in this video?"
NEW_TOKENS = 2
STAGES = ("vision_encoder", "vision_attention", "connector", "llm_prefill", "llm_decode")
PATHS = ("full", "gazed", *PRUNING_METHODS)
FLOPS_TOLERANCE = 0.03  # measured vs analytic, as in test_mllm.py (torch counts a few ops slightly differently)


def placeholder_runs(ids: torch.Tensor, token_id: int) -> list[int]:
    """Lengths of the runs of `token_id` in (1, L) prompt ids."""
    return [len(list(run)) for hit, run in groupby(ids[0].tolist(), key=lambda t: t == token_id) if hit]


class FamilyTesterMixin:
    """The checks every family passes. A subclass sets the class attributes and `placeholder_layout`."""

    family: type[Family]
    save_tiny = None  # (folder) -> folder of the family's tiny random model
    pixel_argument: str  # the stock model's generate() keyword for video pixels
    gaze_ratio = 0.2  # the random gaze's ratio (low enough that the gazed encoder runs fewer patches)

    def stock_model_inputs(self, fam: Family, frames: np.ndarray, ids: torch.Tensor) -> dict:
        """The stock model's own generate() inputs for these frames, besides the prompt ids."""
        return {self.pixel_argument: fam.pixels(frames, fam.stock_side)[None]}

    def placeholder_layout(self, vision) -> list[int]:
        """The runs of placeholder ids the prompt holds for a gazed `model.VisionOutput`."""
        raise NotImplementedError

    # ---- fixtures (one tiny model per family) ----------------------------------------------------
    @pytest.fixture(scope="class")
    def folder(self, tmp_path_factory):
        return self.save_tiny(tmp_path_factory.mktemp(self.family.kind))

    @pytest.fixture(scope="class")
    def mllm(self, folder, device):
        return load_mllm(str(folder), device=device, dtype=torch.float32)  # float32 on CUDA too: exactness

    @pytest.fixture(scope="class")
    def frames(self):
        """uint8 (2, 40, 60, 3), not square (resizing squashes)."""
        return np.random.default_rng(0).integers(0, 256, (2, 40, 60, 3), dtype=np.uint8)

    @pytest.fixture(scope="class")
    def gaze(self, mllm, frames):
        return load_gazer("random", grid=mllm.grid, seed=3).gaze(frames, gazing_ratio=self.gaze_ratio)

    @pytest.fixture(scope="class")
    def answers(self, mllm, frames, gaze):
        """{'full', 'gazed'}: answers with measured FLOPs, on the same frames."""
        out = {
            "full": mllm.answer(frames, QUESTION, max_new_tokens=NEW_TOKENS, count_flops=True),
            "gazed": mllm.answer(frames, QUESTION, gaze=gaze, max_new_tokens=NEW_TOKENS, count_flops=True),
        }
        for method in PRUNING_METHODS:  # post-ViT pruning at the gazed answer's LLM tokens
            out[method] = mllm.answer(
                frames,
                QUESTION,
                pruning=method,
                budget=out["gazed"].llm_vision_tokens,
                max_new_tokens=NEW_TOKENS,
                count_flops=True,
            )
        return out

    # ---- checks ----------------------------------------------------------------------------------
    def test_registry_round_trips(self, mllm):
        assert FAMILIES[self.family.kind] is self.family
        assert family_for(mllm.model.config.model_type) is self.family and type(mllm.family) is self.family
        with pytest.raises(PlaygroundError, match=re.escape(self.family.title)):  # unsupported types name it
            family_for("no_such_model_type")

    def test_all_finest_gaze_reproduces_stock_features(self, mllm, frames):
        """Every finest patch gazed, per-frame attention: the stock encoder's features (the tiny
        model's stock grid is the gaze grid's finest scale)."""
        fam = mllm.family
        assert mllm.grid.canvas == fam.stock_side and mllm.grid.patch_size == fam.patch_size
        tokens = gazed_tokens(load_gazer("full", grid=mllm.grid).gaze(frames))
        gazed = mllm.gazed_vision(frames, tokens, "frame_independent").features
        stock = fam.stock_features(fam.pixels(frames, fam.stock_side))
        assert (gazed - stock.reshape(gazed.shape)).abs().max() < 1e-5
        assert fam.shape.gazed_layers == len(fam.gazed_layers())

    def test_stock_answer_equals_model_generate(self, mllm, frames, answers):
        fam, full = mllm.family, answers["full"]
        ids = fam.prompt_ids(QUESTION, full.llm_vision_tokens_per_frame, fps=fam.processing.fps)
        with torch.inference_mode():
            out = mllm.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=NEW_TOKENS,
                do_sample=False,
                **self.stock_model_inputs(fam, frames, ids),
            )
        assert full.text == mllm.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()
        assert full.llm_prompt_tokens == ids.shape[1]

    @pytest.mark.parametrize("path", PATHS)
    def test_analytic_flops_equal_measured(self, answers, path):
        answer = answers[path]
        for stage in STAGES:
            assert answer.measured_flops[stage] > 0 or stage == "llm_decode" and answer.new_tokens == 1, stage
            assert answer.measured_flops[stage] == pytest.approx(answer.flops[stage], rel=FLOPS_TOLERANCE), stage

    @pytest.mark.parametrize("path", PATHS)
    def test_estimate_from_config_equals_answer(self, mllm, frames, gaze, answers, path):
        answer = answers[path]
        estimate = estimate_flops(
            mllm.model.config,
            len(frames),
            gaze if path == "gazed" else None,
            stock_side=mllm.family.stock_side,
            text_tokens=answer.llm_prompt_tokens - answer.llm_vision_tokens,
            new_tokens=answer.new_tokens,
            pruned_to=answer.llm_vision_tokens if answer.path == "pruned" else None,
        )
        assert estimate == answer.flops

    @pytest.mark.parametrize("method", PRUNING_METHODS)
    def test_post_vit_pruning_keeps_the_gazed_budget_after_the_stock_vit(self, mllm, answers, method):
        """The stock encoder and connector (tokens, FLOPs), then the gazed answer's LLM vision tokens (all of
        the stock ones when the gazed path feeds more, as LLaVA-OV's can), laid out in the prompt."""
        full, gazed, pruned = answers["full"], answers["gazed"], answers[method]
        assert pruned.path == "pruned" and pruned.settings["pruning"] == method
        assert pruned.vision_tokens == full.vision_tokens
        assert [pruned.flops[k] for k in ("vision_encoder", "connector")] == [
            full.flops[k] for k in ("vision_encoder", "connector")
        ]
        assert pruned.llm_vision_tokens == min(gazed.llm_vision_tokens, full.llm_vision_tokens)
        fam = mllm.family
        assert pruned.llm_vision_tokens == sum(pruned.llm_vision_tokens_per_frame) + fam.trailing_tokens
        assert pruned.llm_prompt_tokens - pruned.llm_vision_tokens == full.llm_prompt_tokens - full.llm_vision_tokens
        assert pruned.seconds["prune"] is not None

    def test_llm_token_rules_match_the_model(self, mllm, frames, gaze, answers):
        fam, full, gazed = mllm.family, answers["full"], answers["gazed"]
        assert full.llm_vision_tokens == fam.stock_llm_tokens(fam.shape, len(frames))
        units = len(full.llm_vision_tokens_per_frame)  # frames, or Qwen-VL's 2-frame tubelets
        assert full.llm_vision_tokens_per_frame == [fam.stock_tokens_per_frame(fam.shape)] * units
        assert gazed.llm_vision_tokens == fam.gazed_llm_tokens(fam.shape, gazed_tokens(gaze))
        for answer in (full, gazed):
            assert answer.llm_vision_tokens == sum(answer.llm_vision_tokens_per_frame) + fam.trailing_tokens

    def test_gazed_answer_uses_fewer_vision_tokens(self, answers):
        full, gazed = answers["full"], answers["gazed"]
        assert gazed.path == "gazed" and 1 <= gazed.new_tokens <= NEW_TOKENS
        # encoder tokens; LLM tokens need not drop: LLaVA-OV's gazed path skips the stock 2x pooling
        assert gazed.vision_tokens < full.vision_tokens
        assert gazed.flops["vision_encoder"] < full.flops["vision_encoder"]

    def test_prompt_holds_the_vision_placeholders(self, mllm, frames, gaze, answers):
        fam, gazed = mllm.family, answers["gazed"]
        vision = mllm.gazed_vision(frames, gazed_tokens(gaze))
        with torch.inference_mode():
            ids, _ = fam.llm_inputs(QUESTION, vision, fam.processing.fps, len(frames))
        assert placeholder_runs(ids, fam.placeholder_id) == self.placeholder_layout(vision)
        assert int((ids == fam.placeholder_id).sum()) == gazed.llm_vision_tokens
        assert ids.shape[1] == gazed.llm_prompt_tokens


class TestSmolVLMFamily(FamilyTesterMixin):
    family = SmolVLMFamily
    save_tiny = staticmethod(save_tiny_smolvlm)
    pixel_argument = "pixel_values"

    def placeholder_layout(self, vision):
        return list(vision.per_frame)  # one <image> run per frame, between its timestamp and the next


class TestLlavaOnevisionFamily(FamilyTesterMixin):
    family = LlavaOnevisionFamily
    save_tiny = staticmethod(save_tiny_llava_onevision)
    pixel_argument = "pixel_values_videos"

    def placeholder_layout(self, vision):
        return [sum(vision.per_frame) + 1]  # one <video> run: every frame's tokens, then the newline


class TestQwen3VLFamily(FamilyTesterMixin):
    family = Qwen3VLFamily
    save_tiny = staticmethod(save_tiny_qwen3_vl)
    gaze_ratio = 0.05  # a tubelet's union and the 2x2 groups widen a random gaze about 6-8 fold
    deepstack = 1  # DeepStack mergers of the tiny model

    def stock_model_inputs(self, fam, frames, ids):
        patches, grid_thw = fam.patchify(fam.pixels(frames, fam.stock_side))
        return {
            "pixel_values_videos": patches,
            "video_grid_thw": grid_thw,
            "mm_token_type_ids": (ids == fam.placeholder_id).int() * 2,
        }

    def placeholder_layout(self, vision):
        # per tubelet (after its timestamp), one <|video_pad|> run per scale with a kept group
        return [n for row in vision.layout.runs.tolist() for n in row if n]

    @staticmethod
    def llm_inputs(mllm, frames, vision):
        with torch.inference_mode():
            return mllm.family.llm_inputs(QUESTION, vision, mllm.family.processing.fps, len(frames))

    def test_stock_llm_inputs_give_the_model_forward_logits(self, mllm, frames):
        """The stock path's LLM inputs (spliced by the model, our M-RoPE positions and DeepStack tokens)
        give the logits of the model's own forward on the processor-style inputs."""
        fam = mllm.family
        ids, inputs = self.llm_inputs(mllm, frames, mllm.stock_vision(frames))
        with torch.inference_mode():
            ours = mllm.model(**inputs).logits
            theirs = mllm.model(input_ids=ids, **self.stock_model_inputs(fam, frames, ids)).logits
        assert (ours - theirs).abs().max() < 1e-5

    def test_all_finest_gaze_gives_the_stock_llm_inputs(self, mllm, frames):
        """Every finest patch, frame-independent attention, one tubelet: the same prompt, M-RoPE positions,
        embeddings, merger and DeepStack tokens as the stock path."""
        tokens = gazed_tokens(load_gazer("full", grid=mllm.grid).gaze(frames))
        gazed_ids, gazed = self.llm_inputs(mllm, frames, mllm.gazed_vision(frames, tokens, "frame_independent"))
        stock_ids, stock = self.llm_inputs(mllm, frames, mllm.stock_vision(frames))
        assert torch.equal(gazed_ids, stock_ids) and torch.equal(gazed["position_ids"], stock["position_ids"])
        assert torch.equal(gazed["inputs_embeds"], stock["inputs_embeds"])
        a, b = gazed["mm_encoder_outputs"]["video"], stock["mm_encoder_outputs"]["video"]
        assert len(a.deepstack_features) == len(b.deepstack_features) == self.deepstack
        for x, y in zip([a.pooler_output, *a.deepstack_features], [b.pooler_output, *b.deepstack_features]):
            assert (x[0] - y[0]).abs().max() < 1e-5

    @pytest.mark.parametrize("method", PRUNING_METHODS)
    def test_pruned_tokens_keep_the_stock_positions(self, mllm, frames, method):
        """Post-ViT pruning: the stock prompt without the dropped placeholders, the stock M-RoPE positions of
        the kept ones (gathered), and the stock merger and DeepStack tokens at the same kept positions."""
        stock_vision = mllm.stock_vision(frames)
        with torch.inference_mode():
            pruned_vision = mllm.pruned_vision(stock_vision, method, 150, len(frames))
        stock_ids, stock = self.llm_inputs(mllm, frames, stock_vision)
        ids, pruned = self.llm_inputs(mllm, frames, pruned_vision)
        video = stock_ids[0] == mllm.family.placeholder_id
        keep = torch.ones_like(video)
        keep[video] = pruned_vision.layout.groups[0].flatten()
        assert int(keep[video].sum()) == 150 and pruned_vision.per_frame == [150]
        assert torch.equal(ids, stock_ids[:, keep])
        assert torch.equal(pruned["position_ids"][1:], stock["position_ids"][1:, :, keep])
        a, b = pruned["mm_encoder_outputs"]["video"], stock["mm_encoder_outputs"]["video"]
        kept = keep[video]
        for x, y in zip([a.pooler_output, *a.deepstack_features], [b.pooler_output, *b.deepstack_features]):
            assert torch.equal(x[0], y[0][kept])

    def test_tubelets_take_the_union_and_whole_merge_groups(self, mllm):
        """3 frames: tubelet 0 is frames 0-1 (the union of their slots), tubelet 1 frame 2 alone; one gazed
        patch brings its 2x2 group; the prompt has one run per kept scale; the text after the video has the
        positions it has when those scales are gazed whole (the M-RoPE positions of the whole runs, gathered)."""
        grid = mllm.grid
        frames = np.random.default_rng(1).integers(0, 256, (3, 40, 60, 3), dtype=np.uint8)
        S, finest = grid.num_slots, grid.num_slots - grid.counts[-1]  # the finest scale's (0, 0) patch
        # frame 0: the coarsest (0, 0); frame 1: the finest (0, 0); frame 2: both, the finest as (0, 3)
        pos = torch.tensor([[0, S + finest, 2 * S, 2 * S + finest + 3]])
        gaze = GazeResult(pos, torch.zeros_like(pos, dtype=torch.bool), torch.tensor([1, 1, 2]), grid)
        vision = mllm.gazed_vision(frames, gazed_tokens(gaze), "block_causal")
        assert vision.per_frame == [2, 2] and vision.encoder_tokens == [8, 8]  # 2 groups of 4 per tubelet
        assert vision.layout.prompt_runs() == [[(0, 4), (3, 196)], [(0, 4), (3, 196)]]
        prompt, inputs = self.llm_inputs(mllm, frames, vision)
        whole = torch.cat([torch.arange(grid.counts[0]), torch.arange(finest, S)])  # scales 0 and 3, every slot
        pos = torch.cat([t * S + whole for t in range(3)])[None]
        gaze = GazeResult(pos, torch.zeros_like(pos, dtype=torch.bool), torch.full((3,), len(whole)), grid)
        _, every = self.llm_inputs(mllm, frames, mllm.gazed_vision(frames, gazed_tokens(gaze), "block_causal"))
        assert torch.equal(inputs["position_ids"][1:, :, -8:], every["position_ids"][1:, :, -8:])
        rope = inputs["position_ids"][1:, 0, prompt[0] == mllm.family.placeholder_id]  # (3, 4): t, h, w per token
        assert (rope[2] - rope[1]).tolist() == [0, 0, 0, 1]  # groups (0, 0), (0, 0); (0, 0), (0, 1) in tubelet 1
        assert placeholder_runs(prompt, mllm.family.placeholder_id) == [1, 1, 1, 1]


class TestQwen35Family(TestQwen3VLFamily):
    """Qwen3.5: every Qwen3-VL check (its vision side and prompt are Qwen3-VL's, without DeepStack), and the
    hybrid LLM's FLOPs (Gated DeltaNet layers) against `FlopCounterMode` over prompt lengths the formula treats
    apart."""

    family = Qwen35Family
    save_tiny = staticmethod(save_tiny_qwen3_5)
    deepstack = 0

    def test_the_chunk_is_the_delta_rules(self):
        import inspect

        from transformers.models.qwen3_5 import modeling_qwen3_5

        rule = modeling_qwen3_5.torch_chunk_gated_delta_rule  # a module (kernels' wrapper): read its forward
        assert inspect.signature(rule.forward).parameters["chunk_size"].default == GATED_DELTA_CHUNK

    @pytest.mark.parametrize("tokens", [2, 64, 65])  # under the conv kernel; one whole chunk; one token more
    def test_hybrid_llm_flops_equal_measured(self, mllm, tokens):
        """Prefill (projections, causal conv, chunked delta rule and its triangular solves, full attention,
        lm_head on the last token) and one decode step, analytic = measured, on the LLM alone."""
        from transformers import DynamicCache

        model, shape = mllm.model, mllm.family.shape.text
        assert shape.linear is not None and shape.linear.layers == 3 and shape.attention_layers == 1
        embeds = torch.randn(1, tokens + 1, shape.hidden, generator=torch.Generator().manual_seed(0))
        embeds = embeds.to(mllm.device)
        cache = DynamicCache(config=model.config.text_config)
        counters = [StageCounter(mllm.device, True) for _ in range(2)]
        with torch.inference_mode():
            for counter, step in zip(counters, (embeds[:, :tokens], embeds[:, tokens:])):
                with counter:
                    model(inputs_embeds=step, cache=cache, use_cache=True, logits_to_keep=1)
        assert counters[0].flops == llm_prefill_flops(shape, tokens)
        assert counters[1].flops == llm_decode_flops(shape, tokens, 2)  # one step after the prefill

    @pytest.mark.parametrize("value, message", [(10**5, "parameters"), (0, "linear_num_value_heads")])
    def test_absurd_linear_attention_sizes_fail_before_the_model_is_built(
        self, folder, tmp_path, monkeypatch, value, message
    ):
        import json
        import shutil

        from transformers import AutoModelForImageTextToText

        built = []
        monkeypatch.setattr(AutoModelForImageTextToText, "from_pretrained", lambda *a, **k: built.append(a) or 1 / 0)
        copy = tmp_path / "model"
        shutil.copytree(folder, copy)
        config = json.loads((copy / "config.json").read_text())
        config["text_config"]["linear_num_value_heads"] = value
        (copy / "config.json").write_text(json.dumps(config))
        with pytest.raises(PlaygroundError, match=message):
            load_mllm(str(copy), device="cpu")
        assert not built


def test_every_registered_family_has_a_tester():
    testers, todo = set(), list(FamilyTesterMixin.__subclasses__())
    while todo:  # subclasses of subclasses too (Qwen3.5's tester extends Qwen3-VL's)
        tester = todo.pop()
        testers.add(tester.family)
        todo.extend(tester.__subclasses__())
    assert testers == set(FAMILIES.values())


@pytest.mark.skip(
    reason="NVILA-8B-HD-Video has no offline tiny model: it runs its own remote code and weights "
    "from the hub (nvidia/NVILA-8B-HD-Video), and gazes inside its own processor"
)
def test_nvila(device):
    mllm = load_mllm("nvila", device=device, trust_remote_code=True)
    frames = np.random.default_rng(0).integers(0, 256, (2, 40, 60, 3), dtype=np.uint8)
    assert mllm.answer(frames, QUESTION, max_new_tokens=NEW_TOKENS).text
