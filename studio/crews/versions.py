"""Version history of crews and agents: record, list, diff, restore.

A version is a snapshot in Parley's export format (snapshots.py), its author, time and a short
summary. Diffs compare two snapshots field by field, in words a person reads ("Agent coder:
system message"). Restoring applies an old snapshot through the normal service functions, so it
is validated like any edit and is itself recorded as a new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from studio.accounts.models import User
from studio.crews.models import AgentDef, Crew, Version
from studio.crews.snapshots import content, export_agent, export_crew

SUMMARY_LIMIT = 300
_MISSING: Any = object()
PRESENT = "(present)"  # the leaf that stands for a whole named object in a diff


@dataclass(frozen=True)
class Change:
    path: tuple[str, ...]
    before: Any  # _MISSING-free: None when the field did not exist on that side
    after: Any
    kind: str  # "added", "removed" or "changed"

    @property
    def label(self) -> str:
        return _label(self.path)

    def __str__(self) -> str:
        if PRESENT in (self.before, self.after):  # a whole agent or model came or went
            return f"{self.label}: {self.kind}"
        if self.kind == "added":
            return f"{self.label}: added {_show(self.after)}"
        if self.kind == "removed":
            return f"{self.label}: removed (was {_show(self.before)})"
        return f"{self.label}: {_show(self.before)} → {_show(self.after)}"


def snapshot_of(subject: Crew | AgentDef) -> dict[str, Any]:
    return export_crew(subject) if isinstance(subject, Crew) else export_agent(subject)


def record_version(subject: Crew | AgentDef, user: User | None, summary: str | None = None) -> Version:
    """Store the subject's current state as its next version."""
    snapshot = snapshot_of(subject)
    last = subject.versions.order_by("-number").first()
    if summary is None:
        summary = "Created" if last is None else summarize(diff_documents(last.snapshot, snapshot))
    return Version.objects.create(
        workspace_id=subject.workspace_id,
        crew=subject if isinstance(subject, Crew) else None,
        agent=subject if isinstance(subject, AgentDef) else None,
        number=(last.number + 1) if last else 1,
        snapshot=snapshot,
        summary=summary[:SUMMARY_LIMIT],
        author=user if user is not None and user.is_authenticated else None,
    )


def list_versions(subject: Crew | AgentDef) -> QuerySet[Version]:
    """Newest first, with authors."""
    return subject.versions.select_related("author").order_by("-number")


def summarize(changes: list[Change], limit: int = 3) -> str:
    if not changes:
        return "Saved without changes"
    labels = list(dict.fromkeys(change.label for change in changes))
    text = "Changed " + ", ".join(labels[:limit])
    if len(labels) > limit:
        text += f" and {len(labels) - limit} more"
    return text


def diff_versions(older: Version, newer: Version) -> list[Change]:
    if (older.crew_id, older.agent_id) != (newer.crew_id, newer.agent_id):
        raise ValueError("older and newer must be versions of the same crew or agent")
    return diff_documents(older.snapshot, newer.snapshot)


def diff_documents(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Field-level differences between two documents (their "source" parts are ignored)."""
    old, new = _flatten(content(before)), _flatten(content(after))
    # A whole agent or model that came or went is one change, not one per field.
    whole = [p for p in set(old) ^ set(new) if PRESENT in (old.get(p), new.get(p))]
    changes = []
    for path in list(old) + [p for p in new if p not in old]:
        a, b = old.get(path, _MISSING), new.get(path, _MISSING)
        if a == b or any(path[: len(w)] == w and path != w for w in whole):
            continue
        if a is _MISSING:
            changes.append(Change(path, None, b, "added"))
        elif b is _MISSING:
            changes.append(Change(path, a, None, "removed"))
        else:
            changes.append(Change(path, a, b, "changed"))
    # Stored JSON may come back with its keys reordered (PostgreSQL jsonb does): sort for a stable diff.
    return sorted(changes, key=lambda change: (_SECTION_RANK.get(change.path[0], 9), change.path))


def _flatten(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Leaves by path. Lists of named objects (agents, models) are keyed by name, so a reordered
    list is no change; other lists (members, tags, tools) are compared whole."""
    if isinstance(value, dict):
        if not value and path:
            return {path: value}
        flat: dict[tuple[str, ...], Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, path + (str(key),)))
        return flat
    if isinstance(value, list) and value and all(isinstance(i, dict) and "name" in i for i in value):
        flat = {}
        for item in value:
            flat.update(_flatten({k: v for k, v in item.items() if k != "name"}, path + (f"[{item['name']}]",)))
            flat[path + (f"[{item['name']}]",)] = PRESENT
        return flat
    return {path: value}


_SECTIONS = {"crew": "Crew", "agents": "Agent", "models": "Model", "agent": "Agent"}
_SECTION_RANK = {"crew": 0, "agent": 1, "agents": 1, "models": 2}


def _label(path: tuple[str, ...]) -> str:
    parts = list(path)
    head = ""
    if parts and parts[0] in _SECTIONS:
        head = _SECTIONS[parts.pop(0)]
        if parts and parts[0].startswith("["):
            head += " " + parts.pop(0)[1:-1]
    if parts and parts[0] in ("two_agent", "group"):
        head = {"two_agent": "Two-agent chat", "group": "Group chat"}[parts.pop(0)]
    words = " ".join(p.replace("_", " ") for p in parts)
    if not words:
        return head or "Document"
    return f"{head}: {words}" if head else words


def _show(value: Any, width: int = 80) -> str:
    if value is None:
        return "(empty)"
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", "⏎ ")
    return f"“{text[:width]}…”" if len(text) > width else f"“{text}”"


def restore_version(version: Version, *, user: User | None) -> tuple[Crew | AgentDef, list[str]]:
    """Bring the crew or agent back to `version`; returns it and notes for the person (e.g. agents
    that had to be re-created). The restore is recorded as a new version."""
    from studio.crews import restore  # restore imports services, which imports this module

    summary = f"Restored version {version.number}"
    if version.crew_id is not None:
        return restore.restore_crew(version.crew, version.snapshot, user=user, summary=summary)
    return restore.restore_agent(version.agent, version.snapshot, user=user, summary=summary)
