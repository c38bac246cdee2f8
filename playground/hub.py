"""Fetching checkpoint files from the Hugging Face hub or its local cache, with one-line errors.

Every loader comes here through `checkpoints.locate` (AutoGaze, VideoMAE and MLLMs; NVILA's remote
code is fetched by transformers itself), so offline behaviour is the same for all: with `HF_HUB_OFFLINE` set only the local cache is read (no
network retries), and every failure is a `PlaygroundError` that says what to do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

from .errors import PlaygroundError, first_sentence


def looks_like_hub_id(name: str) -> bool:
    """'owner/name' (not a path such as './x' or '../x', not a checkpoint file name)."""
    return (
        re.fullmatch(r"[\w.-]+/[\w.-]+", name) is not None
        and not name.startswith(".")
        and not name.endswith((".pt", ".safetensors"))
    )


def hub_offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub read it at import, or as the environment says now."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def hub_snapshot(
    repo_id: str, filenames: Sequence[str], revision: str | None = None, cache_dir: str | Path | None = None
) -> Path:
    """The local snapshot folder of `repo_id` holding those of `filenames` the repo has.

    Downloads what is missing unless offline; the caller checks which files it needs.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    offline = hub_offline()
    try:
        folder = snapshot_download(
            repo_id, revision=revision, cache_dir=cache_dir, allow_patterns=list(filenames), local_files_only=offline
        )
    except LocalEntryNotFoundError as exc:
        why = "the hub is offline (HF_HUB_OFFLINE is set)" if offline else "the hub cannot be reached"
        raise PlaygroundError(
            f"{repo_id} is not in the local Hugging Face cache and {why}: download it once "
            f"online (or pass a local folder)"
        ) from exc
    except HFValidationError as exc:
        raise PlaygroundError(f"not a valid hub id: {repo_id}") from exc
    except Exception as exc:  # network / HTTP / auth failures from the hub client
        raise PlaygroundError(
            f"could not fetch {repo_id} from the hub: {type(exc).__name__}: {first_sentence(str(exc), 160)}"
        ) from exc
    return Path(folder)
