"""One reading of the customer's answers: what looks fine, what to change, what is still open.

The summary card shows three lists; they come from this one assessment, so
they cannot contradict each other. An answer is *fine* only when it is a
definite answer and no finding is about it. A finding is about the facts its
rule looked at (``when``) and about every question whose ``related_causes``
name its cause: with "The Authenticated SMTP option is not there", the rule
points at the licence, so "Exchange Online licence: Yes" is not listed as
fine while "no Exchange Online licence" is listed as a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dialogs.knowledge import MAILBOX_QUESTION, UNSURE, Finding, Knowledge

# Answers that are not facts yet: they go under "Still to find out".
OPEN_VALUES = frozenset({UNSURE, "not_tested"})


@dataclass(frozen=True)
class Assessment:
    """What the answers so far mean.

    Attributes:
        findings: The causes to change, in fix order (the order to make them in).
        fine: Question ids whose answers look fine, in question order.
        unknown: Question ids answered "I don't know" (or "not tested"), in question order.
        concerned: Question ids some finding is about (never fine).
    """

    findings: tuple[Finding, ...]
    fine: tuple[str, ...]
    unknown: tuple[str, ...]
    concerned: frozenset[str]


def assess(knowledge: Knowledge, answers: Mapping[str, object]) -> Assessment:
    """Assess the answers: findings by the knowledge's rules, then each answer's place.

    Args:
        knowledge: The knowledge (its rules, questions and fix order).
        answers: Question id -> answer, as stored in the conversation's facts.

    Returns:
        The assessment.
    """
    facts = {question: value for question, value in answers.items() if isinstance(value, str)}
    order = knowledge.fix_order
    findings = tuple(sorted(knowledge.findings(facts), key=lambda f: order[f.cause.id]))
    causes = {finding.cause.id for finding in findings}
    concerned = {condition.fact for finding in findings
                 for condition in knowledge.assessment_rules[finding.rule_index].when}
    concerned.update(question.id for question in knowledge.questions.values()
                     if causes.intersection(question.related_causes))
    asked = [question for question in knowledge.questions
             if question != MAILBOX_QUESTION and question in facts]
    return Assessment(
        findings=findings,
        fine=tuple(q for q in asked if facts[q] not in OPEN_VALUES and q not in concerned),
        unknown=tuple(q for q in asked if facts[q] in OPEN_VALUES),
        concerned=frozenset(concerned),
    )
