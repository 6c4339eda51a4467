"""Reading model replies: turning whatever trl or a peer hands us into text, and pulling tags out of it.

Every helper accepts any value and never raises: a peer's malformed record or a model's garbage reply
scores zero, it does not stop training.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# Phrases a critic may use to say that none of the students is right (compared case-insensitively).
NONE_CORRECT = frozenset(
    {
        "none",
        "no one",
        "nobody",
        "all answers are wrong",
        "all answers were wrong",
        "all are wrong",
        "all were wrong",
        "none are correct",
        "none were correct",
        "no one is correct",
    }
)

XML_TAG_CREDIT = 0.125
TRAILING_CHAR_PENALTY = 0.001
# A reply that rambles on for thousands of characters after its last tag should lose its tag credit,
# not drown every other reward in the group.
XML_COUNT_FLOOR = -1.0

_INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class RewardBreakdown:
    """Weighted reward components for one completion; ``total`` is what GRPO optimises."""

    components: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return float(sum(self.components.values()))


def completion_text(value: object) -> str | None:
    """The reply text from a plain string, a chat message, or a conversation (its last message)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        content = value.get("content")
        return content if isinstance(content, str) else None
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)) and value:
        return completion_text(value[-1])
    return None


def as_text(value: object) -> str:
    """A reference value (answer, question) as stripped text; numbers are accepted, anything else is ''."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, (str, int)):
        return str(value).strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return ""


def extract_tag(text: str | None, tag: str) -> str | None:
    """Content of the last ``<tag>`` (up to its closing tag or the end), stripped; None without the tag."""
    if not text:
        return None
    opening = f"<{tag}>"
    if opening not in text:
        return None
    inner = text.rsplit(opening, 1)[1]
    return inner.split(f"</{tag}>", 1)[0].strip()


def extract_all_tags(text: str | None, tag: str) -> list[str]:
    """Every ``<tag>…</tag>`` value in order, stripped."""
    if not text:
        return []
    opening, closing = f"<{tag}>", f"</{tag}>"
    return [chunk.split(closing, 1)[0].strip() for chunk in text.split(opening)[1:]]


def is_integer_text(value: str | None) -> bool:
    return bool(value) and _INTEGER.fullmatch(value) is not None  # type: ignore[arg-type]


def says_none_correct(value: str | None) -> bool:
    if not value:
        return False
    return value.strip().rstrip(".!").strip().lower() in NONE_CORRECT


def layout_pattern(tags: Sequence[str], strict: bool) -> re.Pattern[str]:
    """The reply layout for ``tags`` in order.

    Strict: the whole reply is the tags, each on its own lines, with at most one trailing newline.
    Soft: the reply starts with the tags in order, whitespace between them, anything after.
    Both let tag contents span lines; without that the reference's two checks could never both pass,
    and the documented 4.0 maximum for an answer would be unreachable.
    """
    if strict:
        body = "\n".join(rf"<{t}>\n.*?\n</{t}>" for t in tags)
        return re.compile(rf"{body}\n?", re.DOTALL)
    body = r"\s*".join(rf"<{t}>.*?</{t}>" for t in tags)
    return re.compile(body, re.DOTALL)


def matches_layout(
    text: str | None, pattern: re.Pattern[str], strict: bool, tags: Sequence[str] = ()
) -> bool:
    """Whether ``text`` has the layout; the strict layout also needs each of ``tags`` exactly once, since
    multi-line contents could otherwise swallow a second copy of the whole layout."""
    if not text:
        return False
    if not strict:
        return pattern.match(text) is not None
    if any(text.count(f"<{t}>") != 1 or text.count(f"</{t}>") != 1 for t in tags):
        return False
    return pattern.fullmatch(text) is not None


def xml_count(text: str | None, tags: Sequence[str]) -> float:
    """+0.125 for each tag line written exactly once, minus 0.001 per character after the last tag.

    The first opening tag starts the reply (``<t>\\n``); later opening tags sit on their own line
    (``\\n<t>\\n``); closing tags are ``\\n</t>\\n``, except the last, which may end the reply. One
    newline after the last tag is free.
    """
    if not text or not tags:
        return 0.0
    count = 0.0
    last = len(tags) - 1
    for i, tag in enumerate(tags):
        opening = f"<{tag}>\n" if i == 0 else f"\n<{tag}>\n"
        closing = f"\n</{tag}>" if i == last else f"\n</{tag}>\n"
        if text.count(opening) == 1:
            count += XML_TAG_CREDIT
        if text.count(closing) == 1:
            count += XML_TAG_CREDIT
    final_closing = f"\n</{tags[last]}>"
    if final_closing in text:
        trailing = text.rsplit(final_closing, 1)[1]
        if trailing.startswith("\n"):
            trailing = trailing[1:]
        count -= len(trailing) * TRAILING_CHAR_PENALTY
    return max(count, XML_COUNT_FLOOR)
