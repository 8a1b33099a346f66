"""How well the offline provider answers: the question corpus, graded right / honest / wrong.

Every case of tests/unit/offline_corpus.py is asked through the whole pipeline (wiring's
builders, the real tools, the demo snapshot) and graded there (see `grade`). Prints the counts,
per intent and in all, then every answer that was not right.
Run: `.venv/bin/python -m bench.answers [--all]` (no database or network needed).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter, defaultdict

from tests.unit.offline_corpus import GRAMMAR_ERRORS, Graded, run_corpus

GRADES = ("right", "honest", "wrong")


def _table(graded: list[Graded]) -> list[str]:
    per_intent: dict[str, Counter[str]] = defaultdict(Counter)
    for row in graded:
        per_intent[row.case.intent][row.grade] += 1
    lines = [f"{'intent':<14} {'right':>6} {'honest':>7} {'wrong':>6}"]
    for intent, counts in sorted(per_intent.items()):
        lines.append(f"{intent:<14} " + " ".join(f"{counts[g]:>6}" for g in GRADES))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="print every answer, not only misses")
    args = parser.parse_args()
    started = time.perf_counter()
    graded = asyncio.run(run_corpus())
    elapsed = time.perf_counter() - started
    totals = Counter(row.grade for row in graded)
    n = len(graded)
    print("\n".join(_table(graded)))
    print(
        f"\n{n} questions: right {totals['right']} ({totals['right'] / n:.1%}), "
        f"honest {totals['honest']}, wrong {totals['wrong']}; "
        f"{elapsed / n * 1000:.1f} ms per question"
    )
    grammar = [row.case.question for row in graded if GRAMMAR_ERRORS.search(row.answer)]
    print(f"grammar errors: {len(grammar)}" + (f" ({'; '.join(grammar)})" if grammar else ""))
    for row in graded:
        if args.all or row.grade != "right":
            before = f" (after {' / '.join(row.case.before)})" if row.case.before else ""
            print(f"\n[{row.grade}] {row.case.intent}: {row.case.question}{before}")
            print("  " + row.answer.replace("\n", "\n  "))


if __name__ == "__main__":
    main()
