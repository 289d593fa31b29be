"""The role groups in the database are exactly the table in accounts.roles."""

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission

from accounts.roles import ROLES, sync_role_groups
from tests.conftest import ensure_role_groups


def _groups_in_database() -> dict[str, set[str]]:
    return {
        group.name: {f"{p.content_type.app_label}.{p.codename}"
                     for p in group.permissions.select_related("content_type")}
        for group in Group.objects.filter(name__in=ROLES).prefetch_related("permissions")
    }


def _declared() -> dict[str, set[str]]:
    return {name: set(role.permissions) for name, role in ROLES.items()}


@pytest.mark.django_db
def test_migrated_groups_equal_the_declared_table():
    # The test database was built by `migrate`: no group missing, no permission extra or missing.
    assert _groups_in_database() == _declared()


@pytest.mark.django_db
def test_every_declared_permission_exists():
    for name, role in ROLES.items():
        for perm in role.permissions:
            app_label, codename = perm.split(".", 1)
            assert Permission.objects.filter(content_type__app_label=app_label,
                                             codename=codename).exists(), (name, perm)


@pytest.mark.django_db
def test_sync_role_groups_is_idempotent():
    sync_role_groups(django_apps)
    before = _groups_in_database()
    group_ids = set(Group.objects.values_list("pk", flat=True))
    sync_role_groups(django_apps)
    assert _groups_in_database() == before == _declared()
    assert set(Group.objects.values_list("pk", flat=True)) == group_ids


@pytest.mark.django_db
def test_sync_role_groups_restores_what_drifted_away():
    Group.objects.get(name="Communications").delete()
    Group.objects.get(name="Auditors").permissions.remove(
        Permission.objects.get(codename="view_all_restricted"))
    sync_role_groups(django_apps)
    assert _groups_in_database() == _declared()


@pytest.mark.django_db(transaction=True)
def test_groups_come_back_after_a_flush():
    # A transactional test's flush empties auth_group; the suite's personas rebuild them.
    Group.objects.all().delete()
    ensure_role_groups()
    assert _groups_in_database() == _declared()


def test_every_role_says_what_it_can_do():
    assert all(role.can.strip() and role.permissions for role in ROLES.values())
