"""The answer to a Query from the results of the turns taken, by intent."""

from __future__ import annotations

from collections.abc import Sequence

from core.providers.offline.backups import backups_answer
from core.providers.offline.context import Asker
from core.providers.offline.counting import (
    all_answer,
    count_answer,
    engines_answer,
    list_answer,
    sync_answer,
)
from core.providers.offline.dates import deploys_answer, expiry_answer
from core.providers.offline.declining import declined
from core.providers.offline.health import overview_answer, problems_answer
from core.providers.offline.lookup import lookup_answer
from core.providers.offline.query import DATA_INTENTS, Query
from core.providers.offline.results import Result
from core.providers.offline.sizes import size_answer


def compose(q: Query, turns: Sequence[Sequence[Result]], who: Asker) -> str:
    if q.intent not in DATA_INTENTS:
        return declined(q, who)
    results = [r for turn in turns for r in turn]
    intent = q.intent
    if intent == "overview":
        return overview_answer(results)
    if intent == "problems":
        return problems_answer(q, results)
    named_one = intent == "list" and any(r.name == "get_resource" for r in results)
    if intent in ("detail", "find") or (intent == "size" and q.name) or named_one:
        return lookup_answer(q, turns, who)
    if intent == "count":
        return count_answer(q, results, who)
    if intent == "all":
        return all_answer(q, results)
    if intent == "list":
        return list_answer(q, results, who)
    if intent == "size":
        return size_answer(q, results, who)
    if intent == "expiry":
        return expiry_answer(q, results)
    if intent == "deploys":
        return deploys_answer(q, results)
    if intent == "backups":
        return backups_answer(q, results)
    if intent == "engines":
        return engines_answer(results)
    return sync_answer(results)
