"""The training math against the full-size reference vectors (slow; needs the reference folder).

Run with:
    AUTOGAZE_FULL_REF=/work/shared/reference .venv/bin/python -m pytest -m slow tests/test_training_full.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from training_vectors import check_collate, check_grpo, check_ntp

pytestmark = pytest.mark.slow
ROOT = os.environ.get("AUTOGAZE_FULL_REF")
if not ROOT:
    pytest.skip("set AUTOGAZE_FULL_REF to the reference folder to run the full-size vectors", allow_module_level=True)
FOLDER = Path(ROOT) / "training" / "full_seed0"
MODEL = Path(ROOT) / "autogaze" / "full_seed0" / "model"


def test_collate_full():
    check_collate(FOLDER)


def test_ntp_full(device):
    check_ntp(FOLDER, MODEL, device)


def test_grpo_full(device):
    check_grpo(FOLDER, MODEL, device)
