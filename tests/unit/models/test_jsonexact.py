from decimal import Decimal

import pytest

from fineract_hub.models import jsonexact


def test_decimals_keep_their_exact_digits():
    assert jsonexact.dumps({"amount": Decimal("1000.50000000")}) == '{"amount":1000.50000000}'


def test_decimals_round_trip_without_float_error():
    text = jsonexact.dumps([Decimal("0.1"), Decimal("12345678901234.12345678")])
    assert jsonexact.loads(text) == [Decimal("0.1"), Decimal("12345678901234.12345678")]


def test_strings_are_escaped_as_json():
    assert jsonexact.loads(jsonexact.dumps({"q": 'a"b\\c\n\u00e9'})) == {"q": 'a"b\\c\n\u00e9'}


def test_integers_past_64_bits_are_written_exactly():
    assert jsonexact.dumps({"n": 2**70}) == '{"n":1180591620717411303424}'


def test_non_finite_decimals_are_refused():
    with pytest.raises(ValueError, match="non-finite"):
        jsonexact.dumpb({"amount": Decimal("NaN")})


def test_nan_and_infinity_are_refused_when_parsing():
    for text in ('{"x": NaN}', '{"x": Infinity}', '{"x": -Infinity}'):
        with pytest.raises(ValueError, match="not valid JSON"):
            jsonexact.loads(text)


def test_non_string_keys_become_strings():
    assert jsonexact.dumps({1: "a"}) == '{"1":"a"}'


def test_control_characters_are_escaped():
    assert jsonexact.loads(jsonexact.dumps({"s": "\x00\x1f\u2028"})) == {"s": "\x00\x1f\u2028"}
