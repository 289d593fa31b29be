"""Each contact-method kind is declared once, in oncall.channels.kinds, with its sender, its
address check and its default throttle; delivery reads the throttles from there."""

import pytest
from django.core.exceptions import ValidationError

from incidents.models import Page
from incidents.paging import delivery
from oncall.channels import kinds
from oncall.models import ContactKind

VALID = {
    ContactKind.EMAIL: "ann@example.test",
    ContactKind.WEBHOOK: "https://hooks.example.com/relay",
    ContactKind.SLACK: "https://hooks.example.com/slack",
    ContactKind.SMS: "+4915112345678",
    ContactKind.VOICE: "+4915112345678",
}


@pytest.mark.parametrize("kind", ContactKind.values)
def test_every_kind_has_a_sender_an_address_check_and_a_throttle(kind):
    declared = kinds.KINDS[kind]
    assert callable(declared.send) and callable(declared.validate)
    assert declared.throttles and all(count >= 1 and minutes >= 1
                                      for count, minutes in declared.throttles)


def test_the_table_declares_no_kind_that_is_not_a_choice():
    assert set(kinds.KINDS) == set(ContactKind.values)


@pytest.mark.parametrize("kind", ContactKind.values)
def test_every_kind_checks_its_address(kind):
    kinds.validate_address(kind, VALID[kind])
    with pytest.raises(ValidationError) as raised:
        kinds.validate_address(kind, "not an address")
    assert "address" in raised.value.message_dict


def test_an_unknown_kind_is_an_error_on_the_kind():
    with pytest.raises(ValidationError) as raised:
        kinds.validate_address("pigeon", "coop 3")
    assert "kind" in raised.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ContactKind.values)
def test_delivery_throttles_a_method_without_its_own_limit_by_its_kind(kind, responder):
    page = Page(user=responder, channel=kind, address=VALID[kind])
    assert delivery._limits(page) == kinds.KINDS[kind].throttles
