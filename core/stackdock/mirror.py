"""The in-memory StackDock mirror: every table indexed by org, by id, and people by email.

Readers take one reference to an immutable `_Index` per lookup, and writers build a new index
and swap the reference in one assignment, so a reader never sees a half-applied sync. Buckets
are tuples, so `rows()` hands out the stored sequence itself without copying it.

A row belongs to the org in its `orgId`. Rows without one (StackDock's `projectResources`, say)
take the org of the row they point at through `projectId`, `teamId` or `dockId`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.ports import Document

_PEOPLE_TABLES = frozenset({"organizations", "users", "memberships", "roles"})
# Pointer field -> the table it points into, tried in order for rows that lack `orgId`.
_OWNER_POINTERS = (("projectId", "projects"), ("teamId", "teams"), ("dockId", "docks"))


@dataclass(frozen=True, slots=True)
class _Index:
    by_id: dict[str, dict[str, Document]] = field(default_factory=dict)  # table -> _id -> doc
    by_org: dict[str, dict[str, tuple[Document, ...]]] = field(default_factory=dict)
    users_by_email: dict[str, Document] = field(default_factory=dict)
    memberships_by_user: dict[str, tuple[Document, ...]] = field(default_factory=dict)
    organizations: tuple[Document, ...] = ()


def _org_of(doc: Document, by_id: Mapping[str, Mapping[str, Document]]) -> str | None:
    org = doc.get("orgId")
    if org:
        return str(org)
    for pointer, table in _OWNER_POINTERS:
        target_id = doc.get(pointer)
        target = by_id.get(table, {}).get(str(target_id)) if target_id else None
        if target is not None and target.get("orgId"):
            return str(target["orgId"])
    return None


def _bucket_table(
    docs: Sequence[Document], by_id: Mapping[str, Mapping[str, Document]]
) -> dict[str, tuple[Document, ...]]:
    grouped: dict[str, list[Document]] = {}
    for doc in docs:
        org = _org_of(doc, by_id)
        if org is not None:
            grouped.setdefault(org, []).append(doc)
    return {org: tuple(rows) for org, rows in grouped.items()}


def _people(by_id: Mapping[str, Mapping[str, Document]]) -> dict[str, Any]:
    users_by_email: dict[str, Document] = {}
    for user in by_id.get("users", {}).values():
        email = user.get("email")
        if email:
            users_by_email[str(email).strip().lower()] = user
    memberships: dict[str, list[Document]] = {}
    for membership in by_id.get("memberships", {}).values():
        memberships.setdefault(str(membership.get("userId")), []).append(membership)
    return {
        "users_by_email": users_by_email,
        "memberships_by_user": {user: tuple(rows) for user, rows in memberships.items()},
        "organizations": tuple(by_id.get("organizations", {}).values()),
    }


class InMemoryMirror:
    """The Mirror port over plain dicts; unknown tables and fields are kept as they came."""

    def __init__(
        self,
        tables: Mapping[str, Sequence[Document]] | None = None,
        as_of: datetime | None = None,
    ) -> None:
        self._index = _Index()
        self._as_of: datetime | None = None
        self._version = 0
        if tables is not None:
            self.replace(tables, as_of or datetime.now().astimezone())

    @property
    def as_of(self) -> datetime | None:
        return self._as_of

    @property
    def version(self) -> int:
        """Grows on every change, so derived views (summaries) know when to rebuild."""
        return self._version

    def tables(self) -> tuple[str, ...]:
        return tuple(self._index.by_id)

    def get(self, table: str, doc_id: str) -> Document | None:
        """One document by table and `_id`, whatever org it belongs to."""
        return self._index.by_id.get(table, {}).get(doc_id)

    def organization(self, org_id: str) -> Document | None:
        return self._index.by_id.get("organizations", {}).get(org_id)

    def organizations(self) -> Sequence[Document]:
        return self._index.organizations

    def user(self, user_id: str) -> Document | None:
        return self._index.by_id.get("users", {}).get(user_id)

    def user_by_email(self, email: str) -> Document | None:
        return self._index.users_by_email.get(email.strip().lower())

    def memberships(self, user_id: str) -> Sequence[Document]:
        return self._index.memberships_by_user.get(user_id, ())

    def role(self, role_id: str) -> Document | None:
        return self._index.by_id.get("roles", {}).get(role_id)

    def rows(self, org_id: str, table: str) -> Sequence[Document]:
        return self._index.by_org.get(table, {}).get(org_id, ())

    def replace(self, tables: Mapping[str, Sequence[Document]], as_of: datetime) -> None:
        """Swaps in a new data set; rows without an `_id` cannot be indexed and are dropped."""
        by_id = {
            table: {str(doc["_id"]): doc for doc in docs if doc.get("_id") is not None}
            for table, docs in tables.items()
        }
        by_org = {table: _bucket_table(list(docs.values()), by_id) for table, docs in by_id.items()}
        self._index = _Index(by_id=by_id, by_org=by_org, **_people(by_id))
        self._as_of = as_of
        self._version += 1

    def apply(
        self, table: str, upserts: Sequence[Document], deletes: Sequence[str], as_of: datetime
    ) -> None:
        """Applies one table's changes, rebuilding only the org buckets they touch."""
        old = self._index
        old_docs = old.by_id.get(table, {})
        docs = dict(old_docs)
        for doc_id in deletes:
            docs.pop(str(doc_id), None)
        for doc in upserts:
            if doc.get("_id") is not None:
                docs[str(doc["_id"])] = doc
        by_id = {**old.by_id, table: docs}

        # A dict keeps the upserts' order, so new rows join their bucket in the order they came.
        changed = dict.fromkeys(
            [str(d) for d in deletes] + [str(d["_id"]) for d in upserts if "_id" in d]
        )
        touched: set[str] = set()
        for doc_id in changed:
            for version in (old_docs.get(doc_id), docs.get(doc_id)):
                org = _org_of(version, by_id) if version is not None else None
                if org is not None:
                    touched.add(org)
        buckets = dict(old.by_org.get(table, {}))
        for org in touched:
            kept = [
                docs[str(d["_id"])]
                for d in buckets.get(org, ())
                if str(d["_id"]) in docs and _org_of(docs[str(d["_id"])], by_id) == org
            ]
            present = {str(d["_id"]) for d in kept}
            kept += [
                docs[i]
                for i in changed
                if i in docs and i not in present and _org_of(docs[i], by_id) == org
            ]
            if kept:
                buckets[org] = tuple(kept)
            else:
                buckets.pop(org, None)
        by_org = {**old.by_org, table: buckets}

        if table in _PEOPLE_TABLES:
            people = _people(by_id)
        else:
            people = {
                "users_by_email": old.users_by_email,
                "memberships_by_user": old.memberships_by_user,
                "organizations": old.organizations,
            }
        self._index = _Index(by_id=by_id, by_org=by_org, **people)
        self._as_of = as_of
        self._version += 1
