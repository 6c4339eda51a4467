"""What the model is asked at each stage, and how the shared prompt text is read back.

The critique and decide prompts travel over the DHT (peers publish the critique prompt they answered,
and the round-winner vote re-scores decisions from it), so their layout is a wire format: it keeps the
reference's markers (``<student>Student #0</student> said``, ``<criticism>Criticism #0</criticism> was``)
so that mixed swarms read each other's prompts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

Message = dict[str, str]

ANSWER_SYSTEM = """\
You are a careful mathematical reasoner in a study group. Solve the question you are given.
1. Inside <think>, reason step by step: name the quantities, do each calculation, check it.
2. Inside <answer>, write only the final number: no units, no words, no working.
3. The final number must be correct; check your arithmetic before you answer.

Reply in exactly this layout, each tag on its own line:
<think>
[your step-by-step reasoning]
</think>
<answer>
[the final number only]
</answer>
"""

CRITIQUE_SYSTEM = """\
You review a mathematics study group's work. You are given a question and several students' replies,
each with reasoning in <think> and a final answer in <answer>. Find the single best reply, or decide
that none is correct.
1. Inside <compare>, compare the students' reasoning: point out errors and sound steps.
2. Inside <explain>, justify your choice, or explain why no reply is correct.
3. Inside <identify>, write only the best student's label exactly as given (for example Student #0),
   or None if no reply is correct.
Judge by mathematical correctness first, then by clear reasoning in the requested format.

Reply in exactly this layout, each tag on its own line:
<compare>
[your comparison of the replies]
</compare>
<explain>
[why your choice is best, or why none is correct]
</explain>
<identify>
[Student #N or None]
</identify>
"""

DECIDE_SYSTEM = """\
You conclude a mathematics study group's discussion. You are given the question, the students' replies
(<think>, <answer>) and the critiques of those replies (<compare>, <explain>, <identify>).
1. Inside <summarize_feedback>, summarise the critiques: common errors, agreement and disagreement.
2. Inside <majority>, write the student label that most critiques named in <identify>
   (for example Student #0), or None if None was named most often.
3. Inside <question>, restate the original question exactly as it was given.
4. Inside <think>, reason step by step to the correct solution, using what the discussion got right.
5. Inside <answer>, write only the final number.

Reply in exactly this layout, each tag on its own line:
<summarize_feedback>
[summary of the critiques]
</summarize_feedback>
<majority>
[Student #N or None]
</majority>
<question>
[the original question]
</question>
<think>
[your step-by-step reasoning]
</think>
<answer>
[the final number only]
</answer>
"""

_QUESTION_HEAD = "The question we were given is: "
_ANSWERS_HEAD = "  \n\nThe following answers to this question were suggested: \n"
_FEEDBACK_HEAD = (
    "  \nAfter comparing these answers, the following feedback was given about which answer is best: \n"
)
_STUDENT_OPEN, _STUDENT_CLOSE, _STUDENT_SAID = "<student>", "</student>", "</student> said \n"
_CRITIC_OPEN, _CRITIC_CLOSE, _CRITIC_WAS = "<criticism>", "</criticism>", "</criticism> was \n"
_ENTRY_END = "\n\n\n"
# Markers a peer's text must not contain, or it could smuggle fake students or critiques into a prompt.
_MARKERS = (_STUDENT_OPEN, _STUDENT_CLOSE, _CRITIC_OPEN, _CRITIC_CLOSE, _FEEDBACK_HEAD.strip())


def student_label(index: int) -> str:
    return f"Student #{index}"


def critic_label(index: int) -> str:
    return f"Criticism #{index}"


def neutralize(text: str) -> str:
    """Peer text with the prompt markers removed."""
    for marker in _MARKERS:
        text = text.replace(marker, "")
    return text


def chat(system: str, user: str) -> list[Message]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def answer_messages(question: str) -> list[Message]:
    return chat(ANSWER_SYSTEM, question)


def critique_prompt(question: str, students: Mapping[str, str]) -> str:
    """The critique stage's user prompt; ``students`` maps labels to replies, in the order shown."""
    parts = [_QUESTION_HEAD, neutralize(question), _ANSWERS_HEAD]
    for label, reply in students.items():
        parts += [_STUDENT_OPEN, label, _STUDENT_SAID, neutralize(reply), _ENTRY_END]
    return "".join(parts)


def decide_prompt(critique_prompt_text: str, critiques: Mapping[str, str]) -> str:
    """The decide stage's user prompt: the critique prompt, then each critique by label."""
    parts = [critique_prompt_text, _FEEDBACK_HEAD]
    for label, reply in critiques.items():
        parts += [_CRITIC_OPEN, label, _CRITIC_WAS, neutralize(reply), _ENTRY_END]
    return "".join(parts)


def critique_messages(question: str, students: Mapping[str, str]) -> list[Message]:
    return chat(CRITIQUE_SYSTEM, critique_prompt(question, students))


def decide_messages(critique_prompt_text: str, critiques: Mapping[str, str]) -> list[Message]:
    return chat(DECIDE_SYSTEM, decide_prompt(critique_prompt_text, critiques))


def _labelled_entries(text: str, opening: str, closing: str, said: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for chunk in text.split(opening)[1:]:
        if closing not in chunk:
            continue
        label = chunk.split(closing, 1)[0].strip()
        body = chunk.split(said, 1)[1] if said in chunk else ""
        if body.endswith(_ENTRY_END):
            body = body[: -len(_ENTRY_END)]
        if label:
            entries[label] = body
    return entries


def parse_question(prompt_text: object) -> str:
    """The original question inside a critique or decide prompt ('' when the text is not one)."""
    if not isinstance(prompt_text, str) or _QUESTION_HEAD not in prompt_text:
        return ""
    after = prompt_text.split(_QUESTION_HEAD, 1)[1]
    return after.split(_ANSWERS_HEAD, 1)[0]


def parse_students(prompt_text: object) -> dict[str, str]:
    """Student label -> reply from a critique or decide prompt."""
    if not isinstance(prompt_text, str):
        return {}
    answers_part = prompt_text.split(_FEEDBACK_HEAD, 1)[0]
    return _labelled_entries(answers_part, _STUDENT_OPEN, _STUDENT_CLOSE, _STUDENT_SAID)


def parse_critiques(prompt_text: object) -> dict[str, str]:
    """Critic label -> critique from a decide prompt."""
    if not isinstance(prompt_text, str) or _FEEDBACK_HEAD not in prompt_text:
        return {}
    return _labelled_entries(
        prompt_text.split(_FEEDBACK_HEAD, 1)[1], _CRITIC_OPEN, _CRITIC_CLOSE, _CRITIC_WAS
    )


def ordered_labels(peers: Sequence[str], make_label: Callable[[int], str] = student_label) -> dict[str, str]:
    """Peer id -> label by sorted peer id, so every node labels the same selection the same way."""
    return {peer: make_label(i) for i, peer in enumerate(sorted(peers))}
