"""First sign-ins that race: two people whose provider gives them the same username, and one
person coming back in two tabs at once. Neither may end in a 500 or a second account."""

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from accounts import sso
from accounts.models import Profile
from tests.concurrency import race
from tests.conftest import make_user

ISSUER = "https://idp.example.test"


@pytest.fixture
def backend(settings):
    settings.OIDC_ISSUER = ISSUER
    return sso.OIDCBackend()


def claims(sub, username="ann"):
    return {"sub": sub, "preferred_username": username}


def subject_of(user):
    return Profile.objects.get(user=user).sso_subject


@pytest.mark.django_db
def test_a_username_taken_after_the_check_moves_on_to_the_next(backend, monkeypatch):
    make_user("ann")
    answers = iter(["ann"])  # what the check saw before another sign-in took the name
    real = sso.unique_username
    monkeypatch.setattr(sso, "unique_username",
                        lambda c, model: next(answers, None) or real(c, model))
    user = backend.create_user(claims("sub-2"))
    assert user.username == "ann-2" and subject_of(user) == "sub-2"


@pytest.mark.django_db
def test_the_same_person_created_meanwhile_is_found_not_duplicated(backend):
    first = backend.create_user(claims("sub-1"))
    # A second callback for the same person, which looked before the first committed:
    again = backend.create_user(claims("sub-1"))
    assert again == first
    assert list(User.objects.values_list("username", flat=True)) == ["ann"]


@pytest.mark.django_db
def test_a_race_that_never_ends_is_refused_not_a_500(backend, monkeypatch):
    make_user("ann")
    monkeypatch.setattr(sso, "unique_username", lambda c, model: "ann")
    with pytest.raises(sso.SuspiciousOperation):
        backend.create_user(claims("sub-2"))
    assert not Profile.objects.filter(sso_subject="sub-2").exists()


def _racing(backend, monkeypatch, subjects):
    """Both sign-ins pick their username before either inserts, then insert at once."""
    picked = threading.Barrier(len(subjects))
    real = sso.unique_username

    first_pick = threading.local()

    def pick_then_wait(c, model):
        name = real(c, model)
        if not getattr(first_pick, "done", False):  # a retry goes straight on
            first_pick.done = True
            picked.wait(timeout=10)
        return name

    monkeypatch.setattr(sso, "unique_username", pick_then_wait)
    turn = iter(subjects)
    lock = threading.Lock()

    def sign_in():
        with lock:
            sub = next(turn)
        with transaction.atomic():
            user = backend.create_user(claims(sub))
        return user.username, sub

    return sorted(race(sign_in, times=len(subjects)))


postgres_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="PostgreSQL only (CI runs the suite on both)")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_people_racing_for_one_username_both_get_in(backend, monkeypatch):
    results = _racing(backend, monkeypatch, ["sub-a", "sub-b"])
    assert [name for name, _ in results] == ["ann", "ann-2"]
    for name, sub in results:
        assert subject_of(User.objects.get(username=name)) == sub


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_one_person_in_two_tabs_at_once_is_one_account(backend, monkeypatch):
    results = _racing(backend, monkeypatch, ["sub-a", "sub-a"])
    assert results == [("ann", "sub-a"), ("ann", "sub-a")]
    assert User.objects.count() == 1
