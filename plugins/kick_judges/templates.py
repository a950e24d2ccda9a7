"""Judge prompt templates: which protocol fact each comes from, and how a prompt is built.

The wording is the protocol: LLM-KICK's GPT-4 reviewer prompts (FastChat-2023 style; the
`prompt.jsonl` files of its `in-context_summarization/` and `mt_conversation/table/` folders)
and MT-Bench's single-answer grading prompts (FastChat `llm_judge/data/judge_prompts.jsonl`).
Each `Template` says which reply format it asks for; `parsing.py` has one strict parser per
format. Pure functions only: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Reply formats (the parser and the retry reminder are chosen by these).
PAIR_LINE = "pair-line"  # "8 7" on the first line
PAIR_TUPLE = "pair-tuple"  # "(8, 7)" somewhere in the reply (math prompt)
CRITERIA_LINES = "criteria-lines"  # four lines "8 7", one per criterion
RATING = "rating"  # "Rating: [[7]]"

SUMMARY_CRITERIA: tuple[str, ...] = ("coherence", "consistency", "fluency", "relevance")
REFERENCE_GUIDED_CATEGORIES = frozenset({"math", "reasoning", "coding"})


@dataclass(frozen=True)
class Template:
    """One judge prompt: a system prompt, a user prompt with named slots, its reply format."""

    name: str
    system: str
    user: str
    reply_format: str

    def messages(self, **slots: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.format(**slots)},
        ]


# ---- LLM-KICK pairwise: summarization (coherence, consistency, fluency, relevance) ----------
_SUMMARY_INSTRUCTION = (
    "We would like to request your feedback on the performance of two AI assistants in response to the "
    "user question displayed above.\n"
    "Please rate the coherence, consistency, fluency, and relevance of summary generated. Each assistant "
    "receives a score on a scale of 1 to 10 for coherence, consistency, fluency and relevance, where a "
    "higher score indicates better overall performance.\n"
    "Please first output four lines containing only two values indicating the scores for Assistant 1 and "
    "2, respectively for each four metrices. The two scores are separated by a space. In the subsequent "
    "line, please provide a comprehensive explanation of your evaluation, avoiding any potential bias and "
    "ensuring that the order in which the responses were presented does not affect your judgment."
)

PAIR_SUMMARY = Template(
    name="llm-kick-summary",
    system=(
        "You are a helpful and precise assistant for checking the quality of the summarization of two "
        "stories within 150 words."
    ),
    user=(
        "[Story]\n{question}\n\n"
        "[The Start of Assistant 1's Summary]\n{answer_1}\n\n[The End of Assistant 1's Summary]\n\n"
        "[The Start of Assistant 2's Answer]\n{answer_2}\n\n[The End of Assistant 2's Summary]\n\n"
        "[System]\n" + _SUMMARY_INSTRUCTION + "\n\n"
    ),
    reply_format=CRITERIA_LINES,
)

# ---- LLM-KICK pairwise: instruction following (Vicuna bench), by category -------------------
_PAIR_FRAME = (
    "[Question]\n{question}\n\n"
    "[The Start of Assistant 1's Answer]\n{answer_1}\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\n{answer_2}\n\n[The End of Assistant 2's Answer]\n\n"
    "[System]\n"
)
_PAIR_SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."

_GENERAL_INSTRUCTION = (
    "We would like to request your feedback on the performance of two AI assistants in response to the "
    "user question displayed above.\n"
    "Please rate the helpfulness, relevance, accuracy, level of details, factual information, and length "
    "of their responses. Each assistant receives an overall score on a scale of 1 to 10, where a higher "
    "score indicates better overall performance.\n"
    "Please first output a single line containing only two values indicating the scores for Assistant 1 "
    "and 2, respectively. The two scores are separated by a space. In the subsequent line, please provide a "
    "comprehensive explanation of your evaluation, avoiding any potential bias and ensuring that the order "
    "in which the responses were presented does not affect your judgment."
)
_CODING_INSTRUCTION = (
    "Your task is to evaluate the coding abilities of the above two assistants. They have been asked to "
    "implement a program to solve a given problem. Please review their code submissions, paying close "
    "attention to their problem-solving approach, code structure, readability, and the inclusion of "
    "helpful comments.\n\n"
    "Please ensure that the assistants' submissions:\n\n"
    "1. Correctly implement the given problem statement.\n"
    "2. Contain accurate and efficient code.\n"
    "3. Include clear and concise comments that explain the code's logic and functionality.\n"
    "4. Adhere to proper coding standards and best practices.\n\n"
    "Once you have carefully reviewed both submissions, provide detailed feedback on their strengths and "
    "weaknesses, along with any suggestions for improvement. You should first output a single line "
    "containing two scores on the scale of 1-10 (1: no code/no sense; 10: perfect) for Assistant 1 and 2, "
    "respectively. Then give extra comments starting from the next line."
)
_MATH_INSTRUCTION = (
    "We would like to request your feedback on the mathematical proficiency of two AI assistants regarding "
    "the given user question displayed above.\n"
    "First, please solve the problem independently, without referring to the answers provided by "
    "Assistant 1 and Assistant 2.\n"
    "Afterward, please examine the problem-solving process of Assistant 1 and Assistant 2 step-by-step to "
    "ensure their correctness, identifying any incorrect steps if present. Your evaluation should take into "
    "account not only the answer but also the problem-solving steps.\n"
    "Finally, please output a Python tuple containing two numerical scores for Assistant 1 and Assistant 2, "
    "ranging from 1 to 10, respectively. If applicable, explain the reasons for any variations in their "
    "scores and determine which assistant performed better."
)


def _pair(name: str, instruction: str, fmt: str) -> Template:
    return Template(name, _PAIR_SYSTEM, _PAIR_FRAME + instruction + "\n\n", fmt)


PAIR_GENERAL = _pair("llm-kick-general", _GENERAL_INSTRUCTION, PAIR_LINE)
PAIR_CODING = _pair("llm-kick-coding", _CODING_INSTRUCTION, PAIR_LINE)
PAIR_MATH = _pair("llm-kick-math", _MATH_INSTRUCTION, PAIR_TUPLE)

# ---- MT-Bench single-answer grading -----------------------------------------------------------
_RATE = (
    "After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly "
    'following this format: "[[rating]]", for example: "Rating: [[5]]".'
)
SINGLE_GENERAL = Template(
    name="single-v1",
    system="You are a helpful assistant.",
    user=(
        "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by "
        "an AI assistant to the user question displayed below. Your evaluation should consider factors such as "
        "the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Begin "
        "your evaluation by providing a short explanation. Be as objective as possible. "
        + _RATE
        + "\n\n[Question]\n{question}\n\n[The Start of Assistant's Answer]\n{answer}\n"
        "[The End of Assistant's Answer]"
    ),
    reply_format=RATING,
)
SINGLE_MATH = Template(
    name="single-math-v1",
    system="You are a helpful assistant.",
    user=(
        "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by "
        "an AI assistant to the user question displayed below. Your evaluation should consider correctness and "
        "helpfulness. You will be given a reference answer and the assistant's answer. Begin your evaluation by "
        "comparing the assistant's answer with the reference answer. Identify and correct any mistakes. Be as "
        "objective as possible. "
        + _RATE
        + "\n\n[Question]\n{question}\n\n[The Start of Reference Answer]\n{ref_answer_1}\n"
        "[The End of Reference Answer]\n\n[The Start of Assistant's Answer]\n{answer}\n"
        "[The End of Assistant's Answer]"
    ),
    reply_format=RATING,
)
_CONVERSATION = (
    "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant A:\n"
    "{answer_1}\n\n### User:\n{question_2}\n\n### Assistant A:\n{answer_2}\n\n"
    "<|The End of Assistant A's Conversation with User|>"
)
SINGLE_GENERAL_MT = Template(
    name="single-v1-multi-turn",
    system=(
        "Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant "
        "to the user question displayed below. Your evaluation should consider factors such as the helpfulness, "
        "relevance, accuracy, depth, creativity, and level of detail of the response. You evaluation should "
        "focus on the assistant's answer to the second user question. Begin your evaluation by providing a "
        "short explanation. Be as objective as possible. " + _RATE + "\n\n"
    ),
    user=_CONVERSATION,
    reply_format=RATING,
)
SINGLE_MATH_MT = Template(
    name="single-math-v1-multi-turn",
    system=(
        "Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant "
        "to the user question. Your evaluation should consider correctness and helpfulness. You will be given a "
        "reference answer and the assistant's answer. You evaluation should focus on the assistant's answer to "
        "the second question. Begin your evaluation by comparing the assistant's answer with the reference "
        "answer. Identify and correct any mistakes. Be as objective as possible. " + _RATE + "\n\n"
    ),
    user=(
        "<|The Start of Reference Answer|>\n\n### User:\n{question_1}\n\n### Reference answer:\n{ref_answer_1}"
        "\n\n### User:\n{question_2}\n\n### Reference answer:\n{ref_answer_2}\n\n<|The End of Reference Answer|>"
        "\n\n\n" + _CONVERSATION
    ),
    reply_format=RATING,
)

ALL_TEMPLATES: tuple[Template, ...] = (
    PAIR_SUMMARY,
    PAIR_GENERAL,
    PAIR_CODING,
    PAIR_MATH,
    SINGLE_GENERAL,
    SINGLE_MATH,
    SINGLE_GENERAL_MT,
    SINGLE_MATH_MT,
)

# ---- the reminder sent when a reply does not parse ---------------------------------------------
REMINDERS: dict[str, str] = {
    PAIR_LINE: (
        "Your reply did not follow the required format. Reply again, starting with one line that contains "
        'only the two scores (1 to 10) for Assistant 1 and Assistant 2, separated by a space, e.g. "7 6".'
    ),
    PAIR_TUPLE: (
        "Your reply did not follow the required format. Reply again and end with a Python tuple of the two "
        'scores (1 to 10) for Assistant 1 and Assistant 2, e.g. "(7, 6)".'
    ),
    CRITERIA_LINES: (
        "Your reply did not follow the required format. Reply again, starting with exactly four lines, for "
        "coherence, consistency, fluency and relevance in this order, each containing only the two scores "
        '(1 to 10) for Assistant 1 and Assistant 2 separated by a space, e.g. "7 6".'
    ),
    RATING: (
        "Your reply did not follow the required format. Reply again and give your rating from 1 to 10 "
        'strictly in this format: "Rating: [[5]]".'
    ),
}


# ---- choosing and filling a template ------------------------------------------------------------
def pairwise_template(kind: str, category: str | None) -> Template:
    """The LLM-KICK pairwise template for an item: summarization, or instruction by category."""
    if kind == "summarization":
        return PAIR_SUMMARY
    if category == "coding":
        return PAIR_CODING
    if category == "math":
        return PAIR_MATH
    return PAIR_GENERAL


def render_turns(turns: Sequence[str], label: str) -> str:
    """A conversation side as one text: a single turn stays as it is; several are labelled."""
    if len(turns) == 1:
        return turns[0]
    return "\n\n".join(f"[{label} {i}]\n{t}" for i, t in enumerate(turns, 1))


def pairwise_messages(
    kind: str, category: str | None, question: Sequence[str], first: Sequence[str], second: Sequence[str]
) -> tuple[Template, list[dict[str, str]]]:
    """Messages asking to grade `first` as Assistant 1 and `second` as Assistant 2."""
    tpl = pairwise_template(kind, category)
    msgs = tpl.messages(
        question=render_turns(question, "Turn"),
        answer_1=render_turns(first, "Answer to turn"),
        answer_2=render_turns(second, "Answer to turn"),
    )
    return tpl, msgs


def single_messages(
    question: Sequence[str],
    answer: Sequence[str],
    *,
    turn: int,
    reference: Sequence[str] | None,
) -> tuple[Template, list[dict[str, str]]]:
    """MT-Bench single grading of `answer`'s turn `turn` (1 or 2); reference-guided when
    `reference` is given. Turn 2 uses the multi-turn template (the whole conversation)."""
    if turn == 1:
        if reference:
            return SINGLE_MATH, SINGLE_MATH.messages(
                question=question[0], answer=answer[0], ref_answer_1=reference[0]
            )
        return SINGLE_GENERAL, SINGLE_GENERAL.messages(question=question[0], answer=answer[0])
    slots = {
        "question_1": question[0],
        "question_2": question[1],
        "answer_1": answer[0],
        "answer_2": answer[1],
    }
    if reference and len(reference) >= 2:
        return SINGLE_MATH_MT, SINGLE_MATH_MT.messages(
            **slots, ref_answer_1=reference[0], ref_answer_2=reference[1]
        )
    return SINGLE_GENERAL_MT, SINGLE_GENERAL_MT.messages(**slots)
