"""The body a webhook gets when it has no template, and the escaping primitives beneath it."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs
from xml.dom import minidom

import pytest

from fineract_hub.templates import RenderError, render_default, sample_context
from fineract_hub.templates.escaping import Unprintable, form_escape, text_of, xml_escape


def test_json_default_body_is_the_whole_context_with_exact_decimals() -> None:
    body = render_default(sample_context(), "application/json")
    parsed = json.loads(body, parse_float=Decimal)
    assert parsed["data"]["approvedPrincipal"] == Decimal("1000.50000000")
    assert b'"approvedPrincipal":1000.50000000' in body
    assert parsed["type"] == "loan.approved"


def test_text_default_body_is_json() -> None:
    assert render_default(sample_context(), "text/plain") == render_default(
        sample_context(), "application/json"
    )


def test_xml_default_body_is_well_formed_and_escaped() -> None:
    body = render_default(sample_context(), "application/xml")
    document = minidom.parseString(body)  # noqa: S318 - our own output, no DTD
    event = document.documentElement
    assert event.tagName == "event"
    external_id = event.getElementsByTagName("externalId")[0].firstChild.data
    assert external_id == sample_context()["data"]["externalId"]
    assert event.getElementsByTagName("approvedPrincipal")[0].firstChild.data == "1000.50000000"
    assert event.getElementsByTagName("groupId")[0].getAttribute("null") == "true"
    assert len(event.getElementsByTagName("charges")[0].getElementsByTagName("item")) == 2


def test_xml_default_body_keeps_keys_that_are_not_xml_names() -> None:
    context = {"type": "x", "data": {"1st key": "<v>", "xmlish": 1}}
    document = minidom.parseString(render_default(context, "application/xml"))  # noqa: S318
    fields = document.getElementsByTagName("field")
    assert [f.getAttribute("name") for f in fields] == ["1st key", "xmlish"]
    assert fields[0].firstChild.data == "<v>"


def test_form_default_body_has_top_level_scalars_and_data_as_json() -> None:
    body = render_default(sample_context(), "application/x-www-form-urlencoded")
    fields = parse_qs(body.decode(), keep_blank_values=True)
    assert fields["type"] == ["loan.approved"]
    assert fields["aggregateId"] == ["42"]
    assert json.loads(fields["data"][0], parse_float=Decimal)["approvedPrincipal"] == Decimal(
        "1000.50000000"
    )


def test_default_body_refuses_values_that_are_not_json() -> None:
    with pytest.raises(RenderError, match="type object"):
        render_default({"data": {"x": object()}}, "application/json")


def test_text_of_prints_decimals_with_every_digit() -> None:
    assert text_of(Decimal("1000.50000000")) == "1000.50000000"
    assert text_of(Decimal("1E+3")) == "1000"


def test_text_of_refuses_non_finite_numbers() -> None:
    with pytest.raises(Unprintable):
        text_of(Decimal("NaN"))
    with pytest.raises(Unprintable):
        text_of(float("inf"))


def test_xml_escape_replaces_characters_xml_cannot_carry() -> None:
    assert xml_escape("a\x00b\x1fc\td\ne") == "a\ufffdb\ufffdc\td\ne"


def test_form_escape_encodes_everything_but_unreserved_characters() -> None:
    assert form_escape("a b+c&d=e/f~g") == "a+b%2Bc%26d%3De%2Ff~g"
