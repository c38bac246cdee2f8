"""The rules of a multiple-choice answer, in one place: the prompt, the letter read from an answer, the score.

They follow lmms-eval's Video-MME task, used here for every format:

- **Prompt** (`build_prompt`): "Select the best answer to the following multiple-choice question
  based on the video. Respond with only the letter (A, B, C, or D) of the correct option.", the
  question, its options one a line ("A. ..."; HLVid's are inside its question), then "Answer with
  the option's letter from the given choices directly.".
- **Decoding**: greedy, `knobs.MAX_NEW_TOKENS` new tokens (lmms-eval's 16) unless told otherwise.
- **Letter** (`extract_letter`): strip the answer prefixes lmms-eval strips ("The best answer is",
  "Answer:", ...; here in any case), then take the first option letter A-E. An answer that is one
  letter in any case, alone or in brackets ("b", "(c)", "D."), is that letter; otherwise the first
  capital A-E that stands alone (not inside a word: "I think D." gives D, "Because" gives nothing)
  or a lower-case one in brackets ("(c)"). lmms-eval takes any capital A-D, even inside a word;
  the stricter rule here does not read "B" out of "Because".
- **Score** (`score`): exact match of that letter with the answer; an answer with no letter is
  *unparsed*: counted wrong, and counted apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .questions import LETTERS, Question

INSTRUCTION = (
    "Select the best answer to the following multiple-choice question based on the video. "
    "Respond with only the letter ({letters}) of the correct option."
)
POST_PROMPT = "Answer with the option's letter from the given choices directly."
# lmms-eval's prefixes (Video-MME's extract_characters_regex), longest first, and "Answer:" / "Option:".
PREFIXES = (
    "the best answer is",
    "the correct answer is",
    "the answer is",
    "the best option is",
    "the correct option is",
    "the answer",
    "best answer:",
    "best option:",
    "answer:",
    "option:",
)
_PREFIX = re.compile("|".join(re.escape(p) for p in PREFIXES), flags=re.IGNORECASE)
_ALONE = re.compile(rf"\W*([{LETTERS}{LETTERS.lower()}])\W*")
_FIRST = re.compile(rf"(?<![A-Za-z])([{LETTERS}])(?![A-Za-z])|\(([{LETTERS.lower()}])\)")


@dataclass
class Score:
    """One answer read and scored."""

    letter: str | None  # the letter read from the answer; None = unparsed
    correct: bool  # letter == the question's answer (unparsed: False)

    @property
    def parsed(self) -> bool:
        return self.letter is not None


def letters_text(count: int) -> str:
    """'A, B, C, or D' for 4 options; 'A, B, C, D, or E' when the count is not known (0)."""
    letters = list(LETTERS[:count] if count >= 2 else LETTERS)
    return ", ".join(letters[:-1]) + ", or " + letters[-1]


def build_prompt(question: Question) -> str:
    """The multiple-choice prompt that asks for the letter only (see the module doc)."""
    lines = [
        INSTRUCTION.format(letters=letters_text(question.num_options)),
        question.question.strip(),
        *question.options,
        POST_PROMPT,
    ]
    return "\n".join(lines)


def extract_letter(text: str) -> str | None:
    """The option letter an answer gives (see the module doc), upper case; None when there is none."""
    rest = _PREFIX.sub(" ", str(text or "")).strip()
    alone = _ALONE.fullmatch(rest)
    if alone:
        return alone.group(1).upper()
    first = _FIRST.search(rest)
    if first is None:
        return None
    return (first.group(1) or first.group(2)).upper()


def score(text: str, answer: str) -> Score:
    """Read the letter of `text` and compare it with the correct letter `answer`."""
    letter = extract_letter(text)
    return Score(letter, letter is not None and letter == answer.strip().upper())
