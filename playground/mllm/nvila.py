"""NVILA-8B-HD-Video (the one MLLM trained on gazed tokens), as an opt-in remote-code adapter.

NVILA ships its own model and processor code in its hub repository, and its processor runs
AutoGaze itself (it needs the official `autogaze` package installed). Loading it executes that
code, so `load_mllm` only does so with `trust_remote_code=True`. The adapter follows the model
card's documented flow (`AutoProcessor` + `AutoModel` + `generate`); gazing knobs such as
`gazing_ratio_tile`, `task_loss_requirement_tile`, `num_video_frames` and `max_tiles_video` are
processor arguments given at load time. It reports the answer and its total wall time; the
per-stage tokens and FLOPs are not visible from outside NVILA's code.

Not testable offline: the weights and code are only on the hub. Nothing here has been run
against the real model in this project.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ..errors import PlaygroundError, check
from ..gazers.autogaze.loading import HUB_ID as AUTOGAZE_HUB_ID
from .answer import Answer, check_request

NVILA_HUB_ID = "nvidia/NVILA-8B-HD-Video"


def is_nvila(name_or_path: str) -> bool:
    return "nvila" in str(name_or_path).lower()


class NvilaMLLM:
    """NVILA-8B-HD-Video through its own remote code (gazes internally with AutoGaze)."""

    def __init__(self, model, processor, name: str):
        self.model = model
        self.processor = processor
        self.name = name

    def answer(self, video: Any, question: str, gaze=None, max_new_tokens: int = 32, **unused) -> Answer:
        """Answer with NVILA's own processor and gazing.

        Args:
            video: a video path or URL (as the model card does), or uint8 (T,H,W,3) frames.
            question: the question.
            gaze: must be None: NVILA gazes inside its processor.
            max_new_tokens: generation cap.
        """
        check_request(question, max_new_tokens, self.processor.tokenizer)
        check(
            gaze is None,
            "NVILA gazes with AutoGaze inside its own processor; set its gazing knobs "
            "(gazing_ratio_tile, task_loss_requirement_tile, ...) when loading it instead",
        )
        if isinstance(video, np.ndarray) and video.ndim == 5:
            video = video[0]
        token = getattr(self.processor.tokenizer, "video_token", "<video>")
        start = time.perf_counter()
        inputs = self.processor(text=f"{token}\n\n{question}", videos=video, return_tensors="pt")
        inputs = {k: v.to(self.model.device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens)
        prompt_len = inputs["input_ids"].shape[1]
        text = self.processor.batch_decode(out[:, prompt_len:], skip_special_tokens=True)[0].strip()
        seconds = {"total": time.perf_counter() - start}
        return Answer(
            text=text,
            path="nvila",
            model=self.name,
            attention="nvila",
            vision_tokens=0,
            vision_tokens_per_frame=[],
            llm_vision_tokens=0,
            llm_vision_tokens_per_frame=[],
            llm_prompt_tokens=int(prompt_len),
            new_tokens=int(out.shape[1] - prompt_len),
            flops={},
            seconds=seconds,
            settings={"note": "per-stage figures are internal to NVILA"},
        )


def load_nvila(name_or_path: str, device, trust_remote_code: bool, **kwargs) -> NvilaMLLM:
    """Load NVILA-8B-HD-Video with its remote code; refuses unless `trust_remote_code=True`."""
    check(
        trust_remote_code,
        f"{name_or_path} runs its own Python code from the model repository; load it with "
        f"trust_remote_code=True (CLI: --trust-remote-code) only if you trust that code",
    )
    from transformers import AutoModel, AutoProcessor  # lazy: transformers is slow to import

    try:
        # Its processor's default gazer id is the old bfshi/AutoGaze, which the hub now answers with 404.
        kwargs.setdefault("autogaze_model_id", AUTOGAZE_HUB_ID)
        processor = AutoProcessor.from_pretrained(name_or_path, trust_remote_code=True, **kwargs)
        model = AutoModel.from_pretrained(
            name_or_path, trust_remote_code=True, dtype=torch.bfloat16 if device.type == "cuda" else torch.float32
        )
    except (OSError, ValueError, ImportError) as exc:
        raise PlaygroundError(f"cannot load {name_or_path}: {str(exc).splitlines()[0] if str(exc) else exc!r}") from exc
    return NvilaMLLM(model.to(device).eval(), processor, str(name_or_path))
