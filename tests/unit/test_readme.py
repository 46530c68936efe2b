"""The README's lesson table is the lesson registry's: ids, titles, steps, pages and data sets."""
from __future__ import annotations

from pathlib import Path

from nnviz.teaching import lessons

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- lessons: begin -->", "<!-- lessons: end -->"


def lesson_table() -> str:
    rows = ["| id | lesson | steps | pages | data set | link |", "|---|---|---|---|---|---|"]
    for lesson in lessons.LESSONS.values():
        pages = " → ".join(dict.fromkeys(step.page for step in lesson.steps))
        rows.append(f"| `{lesson.id}` | {lesson.title} | {len(lesson.steps)} | {pages} | "
                    f"{', '.join(lesson.datasets)} | `/?lesson={lesson.id}` |")
    return "\n".join(rows)


def test_the_readme_lists_every_lesson_as_the_registry_has_it():
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"the README needs the markers {BEGIN} and {END} around the lesson table"
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    expected = lesson_table()
    assert table == expected, f"the README's lesson table is stale; put this between the markers:\n{expected}"
