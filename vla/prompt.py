"""The one place the VLA prompt template lives; training and inference both build prompts here.

The template follows OpenVLA ("In: What action should the robot take to {instruction}?\\nOut:"). The
instruction is cleaned first so "  Pick up the RED block. " and "pick up the red block" give the same
prompt, token for token: strip, lowercase, collapse runs of whitespace, drop trailing sentence punctuation
(the template supplies the "?").
"""

from __future__ import annotations

import re

PROMPT_PREFIX = "In: What action should the robot take to "
PROMPT_SUFFIX = "?\nOut:"
PROMPT_TEMPLATE = PROMPT_PREFIX + "{instruction}" + PROMPT_SUFFIX

_SPACES = re.compile(r"\s+")
_TRAILING_PUNCT = ".?!;:,"


def clean_instruction(instruction: str) -> str:
    """The normalized instruction text: stripped, lowercased, single-spaced, no trailing punctuation.

    Raises TypeError for a non-string and ValueError when nothing is left, because an empty prompt would
    silently condition the policy on no task at all.
    """
    if not isinstance(instruction, str):
        raise TypeError(f"instruction must be a str, got {type(instruction).__name__}: {instruction!r}")
    text = _SPACES.sub(" ", instruction).strip().lower().rstrip(_TRAILING_PUNCT).strip()
    if not text:
        raise ValueError(f"instruction is empty after cleaning: {instruction!r}")
    return text


def build_prompt(instruction: str) -> str:
    """The full LM prompt for `instruction`; the model's action tokens follow directly after it."""
    return PROMPT_TEMPLATE.format(instruction=clean_instruction(instruction))
