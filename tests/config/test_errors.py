"""config.errors: one family of domain errors, answered by one API exception handler."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIRequestFactory

from config.errors import Conflict, DomainError, Invalid, NotAllowed, api_exception_handler
from incidents.paging.replies import ReplyError
from incidents.services import InvalidTransition
from oncall.services import SwapError


def _answer(error):
    request = APIRequestFactory().post("/api/v1/incidents/1/acknowledge/")
    return api_exception_handler(error, {"request": request, "view": None})


@pytest.mark.parametrize("error_class,status", [
    (Conflict, 409), (InvalidTransition, 409), (SwapError, 409), (NotAllowed, 403),
    (Invalid, 400), (ReplyError, 400),
])
def test_each_domain_error_answers_its_status(error_class, status):
    assert issubclass(error_class, DomainError)
    response = _answer(error_class("The state forbids it.", "status"))
    assert response.status_code == status
    assert response.data == {"detail": "The state forbids it.", "status": ["The state forbids it."]}


def test_domain_error_without_field_answers_detail_only():
    assert _answer(Conflict("Already taken.")).data == {"detail": "Already taken."}


def test_validation_error_answers_400_by_field():
    response = _answer(ValidationError({"title": "This field is required."}))
    assert response.status_code == 400
    assert response.data == {"title": ["This field is required."]}


def test_other_errors_are_left_to_drf():
    assert _answer(RuntimeError("boom")) is None
