"""Test data: factory-boy factories and the fixed cast alice, bob and charlie.

Users are made through `studio.accounts.services.sign_up`, the same function the sign-up page
uses, so every test user has a personal workspace exactly as a real one would. The cast fixtures
(`alice`, `bob`, `charlie`) are defined here; import them into a conftest or list this module in
`pytest_plugins` to use them.
"""

from __future__ import annotations

import factory
import pytest

from studio.accounts.models import Membership, Role, User, Workspace
from studio.accounts.services import sign_up

PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.test")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class, *args, username: str, email: str, password: str, **fields):
        """Sign the user up (or return the existing one of that name); extra fields are saved after."""
        user = model_class.objects.filter(username=username).first() or sign_up(
            username=username, email=email, password=password
        )
        if fields:
            for field, value in fields.items():
                setattr(user, field, value)
            user.save(update_fields=list(fields))
        return user


class WorkspaceFactory(factory.django.DjangoModelFactory):
    """A shared (non-personal) workspace; add members with `add_member`."""

    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Team {n}")


def add_member(workspace: Workspace, user: User, role: str = Role.VIEWER) -> Membership:
    return Membership.objects.create(workspace=workspace, user=user, role=role)


@pytest.fixture
def alice(db) -> User:
    return UserFactory(username="alice")


@pytest.fixture
def bob(db) -> User:
    return UserFactory(username="bob")


@pytest.fixture
def charlie(db) -> User:
    return UserFactory(username="charlie")
