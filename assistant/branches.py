"""A conversation's branches and versions, worked out from a session's rows.

Questions form a tree: each has the question before it on its branch (``parent``;
none for a first question). Editing a question adds a sibling (same parent), so the
old branch and its later turns stay. The session's ``leaf`` ends the branch shown and
continued. Each question's answers are its ``versions``; the shown one is its
``reply``. Assistant messages that answer no question (a site's own notes) are shown
where they fall in time.

Pure functions over rows already read: no queries here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

USER, ASSISTANT, CANCELLED = "user", "assistant", "cancelled"


def _ordered(rows: Iterable[Any]) -> list[Any]:
    return sorted(rows, key=lambda row: (row.created_at, str(row.pk)))


def path(questions: dict[Any, Any], leaf_id) -> list[Any]:
    """The questions from the first one down to ``leaf_id``; ``questions`` by id."""
    chain, seen = [], set()
    node = questions.get(leaf_id)
    while node is not None and node.pk not in seen:
        seen.add(node.pk)
        chain.append(node)
        node = questions.get(node.parent_id)
    chain.reverse()
    return chain


def deepest(questions: Iterable[Any], start) -> Any:
    """The question a branch from ``start`` ends at, following the newest question
    after each one (the branch last added to)."""
    followers: dict[Any, list[Any]] = defaultdict(list)
    for question in _ordered(questions):
        followers[question.parent_id].append(question)
    node, seen = start, set()
    while followers.get(node.pk) and node.pk not in seen:
        seen.add(node.pk)
        node = followers[node.pk][-1]
    return node


def conversation(rows: Sequence[Any], leaf_id) -> list[Any]:
    """The messages shown, in the branch's order: the questions down to ``leaf_id``,
    each followed by its shown answer, cancelled questions left out. Each shown row gets
    ``versions``: ``{"ids": [...], "index": n}`` when its turn has more than one
    version (edits of a question, answers to it), else None.

    Without a leaf (rows written before branches existed), every row is shown."""
    rows = _ordered(rows)
    for row in rows:
        row.versions = None
    if leaf_id is None:
        return [row for row in rows if row.status != CANCELLED]
    questions = {row.pk: row for row in rows if row.role == USER}
    on_branch = path(questions, leaf_id)
    if not on_branch:
        return [row for row in rows if row.status != CANCELLED]
    siblings: dict[Any, list[Any]] = defaultdict(list)
    for question in questions.values():
        siblings[question.parent_id].append(question)
    answers: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        if row.role == ASSISTANT and (row.version_of_id or row.reply_to_id):
            answers[row.version_of_id or row.reply_to_id].append(row)

    notes = [row for row in rows if row.role == ASSISTANT and not (row.version_of_id or row.reply_to_id)]
    shown: list[Any] = []
    for question in on_branch:
        while notes and (notes[0].created_at, str(notes[0].pk)) < (question.created_at, str(question.pk)):
            shown.append(notes.pop(0))
        if question.status == CANCELLED:
            continue
        turn = [q for q in _ordered(siblings[question.parent_id]) if q.status != CANCELLED or q is question]
        question.versions = _versions(turn, question)
        shown.append(question)
        replies = _ordered(answers.get(question.pk, ()))
        reply = next((r for r in replies if r.reply_to_id == question.pk), None)
        if reply is not None:
            reply.versions = _versions(replies, reply)
            shown.append(reply)
    return shown + notes


def _versions(turn: list[Any], current) -> dict[str, Any] | None:
    if len(turn) < 2:
        return None
    return {"ids": [str(row.pk) for row in turn], "index": turn.index(current)}
