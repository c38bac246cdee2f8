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


def first_sentence(text: str, limit: int = 200) -> str:
    """The first sentence of a library's message (its first non-blank line; terminal colour codes removed).

    Never cut mid-sentence: a sentence longer than `limit` is cut at the last word that fits, marked
    with an ellipsis; otherwise the result ends with a full stop (or the text's own closing
    punctuation). Empty text gives "".
    """
    import re

    lines = [line for line in re.sub(r"\x1b\[[0-9;]*m", "", str(text)).splitlines() if line.strip()]
    if not lines:
        return ""
    flat = " ".join(lines[0].split())
    match = re.search(r"[.!?](\s|$)", flat)
    sentence = flat[: match.start() + 1] if match else flat
    if len(sentence) > limit:
        sentence = sentence[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " ..."
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."
