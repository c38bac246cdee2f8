"""Public names imported on first use (PEP 562): a package's `__getattr__` and `__dir__` from one table.

`playground` and `playground.training` name their public functions and classes in a table (name -> the
submodule that defines it) instead of importing them, so that importing the package (and with it
`python -m playground --help`, or `train --help`, which reads `training.methods`) does not pay for torch
until a name is used. A name is imported once, then bound in the package like an eager import; a submodule
not yet imported is found as the eager imports used to bind it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any, Callable


def lazy_names(package: str, table: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package` (its `__name__`), whose names in `table` live in its submodules."""

    def __getattr__(name: str) -> Any:
        if name in table:
            value = getattr(importlib.import_module(f".{table[name]}", package), name)
            setattr(sys.modules[package], name, value)  # found once
            return value
        if not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f".{name}", package)  # a submodule, as the eager imports used to bind
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
