from decimal import Decimal

from fineract_hub.models import jsonexact


def test_decimals_keep_their_exact_digits():
    assert jsonexact.dumps({"amount": Decimal("1000.50000000")}) == '{"amount":1000.50000000}'


def test_decimals_round_trip_without_float_error():
    text = jsonexact.dumps([Decimal("0.1"), Decimal("12345678901234.12345678")])
    assert jsonexact.loads(text) == [Decimal("0.1"), Decimal("12345678901234.12345678")]


def test_strings_are_escaped_as_json():
    assert jsonexact.loads(jsonexact.dumps({"q": 'a"b\\c\n\u00e9'})) == {"q": 'a"b\\c\n\u00e9'}
