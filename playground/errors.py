"""The one exception type users see for bad input, and helpers that raise it.

Every user-facing failure (a corrupt video, a wrong knob, a checkpoint with the wrong keys) is a
`PlaygroundError` whose message is a single line. The CLI turns it into exit status 2 and the app
into a message box; nothing else is caught, so real bugs still show their traceback.
"""

from __future__ import annotations


class PlaygroundError(ValueError):
    """Bad input or a failed load, explained in one line."""

    def __init__(self, message: str):
        # Keep messages to one line so that CLI output and app toasts stay readable.
        super().__init__(" ".join(str(message).split()))


def check(condition: bool, message: str) -> None:
    """Raise `PlaygroundError(message)` unless `condition` holds."""
    if not condition:
        raise PlaygroundError(message)


def finite_number(value, name: str) -> float:
    """`value` as a float, or `PlaygroundError` naming the knob when it is not a finite number."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":  # True would pass as 1.0
        raise PlaygroundError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PlaygroundError(f"{name} must be a number, got {value!r}") from None
    check(number == number and abs(number) != float("inf"), f"{name} must be finite, got {value!r}")
    return number
