"""The gallery: ready-made crews every user can copy into a workspace of theirs.

Each gallery crew lives alone in a workspace with no members (so nobody edits it, and its agents
keep their plain names). `load_gallery` (the management command, run by `make run`) creates them
from gallery_seeds.SEEDS and is idempotent: an unchanged seed is left alone, a changed one is
reloaded, a removed one is deleted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from studio.accounts.models import User, Workspace
from studio.crews.exchange import ImportResult, copy_crew_to_workspace, import_crew
from studio.crews.gallery_seeds import SEEDS
from studio.crews.models import Crew, GalleryCrew


@dataclass
class GalleryReport:
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]

    def __str__(self) -> str:
        return (f"Gallery: {len(self.added) + len(self.updated) + len(self.unchanged)} crews "
                f"({len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{len(self.removed)} removed)")


def seed_digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode("utf-8")).hexdigest()


@transaction.atomic
def load_gallery(seeds: dict[str, dict[str, Any]] | None = None) -> GalleryReport:
    seeds = SEEDS if seeds is None else seeds
    report = GalleryReport([], [], [], [])
    existing = {entry.slug: entry for entry in GalleryCrew.objects.select_related("crew", "workspace")}
    for position, (slug, document) in enumerate(seeds.items()):
        digest = seed_digest(document)
        entry = existing.pop(slug, None)
        if entry is not None and entry.digest == digest:
            if entry.position != position:
                GalleryCrew.objects.filter(pk=entry.pk).update(position=position)
            report.unchanged.append(entry.crew.name)
            continue
        if entry is not None:
            entry.workspace.delete()  # the crew, its agents, models and versions go with it
        workspace = Workspace.objects.create(name=f"Gallery: {document['crew']['name']}")
        result = import_crew(workspace, user=None, data=document)
        GalleryCrew.objects.create(slug=slug, workspace=workspace, crew=result.crew, position=position, digest=digest)
        (report.updated if entry is not None else report.added).append(result.crew.name)
    for entry in existing.values():
        report.removed.append(entry.crew.name)
        entry.workspace.delete()
    return report


def list_gallery() -> QuerySet[GalleryCrew]:
    return GalleryCrew.objects.select_related("crew").order_by("position", "slug")


def is_gallery_crew(crew: Crew) -> bool:
    return GalleryCrew.objects.filter(crew=crew).exists()


def copy_gallery_crew(slug: str, workspace: Workspace, *, user: User | None) -> ImportResult:
    """Copy the gallery crew `slug` into `workspace` (the caller checks the user may edit it)."""
    entry = GalleryCrew.objects.select_related("crew").filter(slug=slug).first()
    if entry is None:
        raise GalleryCrew.DoesNotExist(f"there is no gallery crew {slug!r}")
    return copy_crew_to_workspace(entry.crew, workspace, user=user)
