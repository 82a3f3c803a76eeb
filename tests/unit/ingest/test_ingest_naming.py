"""Dotted event types for Fineract's events, subscription aliases, wildcards and validation."""

from __future__ import annotations

import pytest

from fineract_hub.errors import ValidationError
from fineract_hub.ingest.naming import (
    ALIASES,
    CONTAINER_TYPES,
    FINERACT_EVENT_SCHEMAS,
    FINERACT_EVENT_TYPES,
    PUBLISH_ONLY_TYPES,
    SEED_EVENT_TYPES,
    SEED_PRIMARY,
    dotted_type,
    known_event_types,
    subscription_matches,
    validate_subscription,
)
from fineract_hub.ingest.schemas import SchemaRegistry

CATALOG_FAMILIES = {
    "Client": {"client"},
    "Loan": {"loan"},
    "Loan COB": {"loan"},
    "Investor": {"investor"},
    "Savings": {"savings"},
    "Deposit": {"fixeddeposit", "recurringdeposit"},
    "Group": {"group", "center"},
    "Share": {"share"},
    "Bulk": {"bulk"},
}


def test_seed_list_is_the_original_25_names() -> None:
    assert len(SEED_EVENT_TYPES) == 25
    assert len(set(SEED_EVENT_TYPES)) == 25


def test_every_catalog_type_gets_a_dotted_name_in_its_category_family() -> None:
    for fineract_type, category in FINERACT_EVENT_TYPES.items():
        family, _, name = dotted_type(fineract_type, category).partition(".")
        assert family in CATALOG_FAMILIES[category], fineract_type
        assert name, fineract_type


def test_no_two_catalog_types_share_a_dotted_name() -> None:
    names = [dotted_type(t, c) for t, c in FINERACT_EVENT_TYPES.items()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("fineract_type", "expected"),
    [
        ("LoanApprovedBusinessEvent", "loan.approved"),
        ("LoanCreatedBusinessEvent", "loan.created"),
        ("LoanDisbursalBusinessEvent", "loan.disbursed"),
        ("LoanTransactionMakeRepaymentPostBusinessEvent", "loan.repayment"),
        ("LoanWrittenOffPostBusinessEvent", "loan.writtenoff"),
        ("SavingsDepositBusinessEvent", "savings.deposit"),
        ("ClientCreateBusinessEvent", "client.created"),
        ("ClientActivateBusinessEvent", "client.activated"),
    ],
)
def test_seed_names_are_primary_where_they_fit_one_type_exactly(
    fineract_type: str, expected: str
) -> None:
    assert dotted_type(fineract_type, FINERACT_EVENT_TYPES[fineract_type]) == expected


@pytest.mark.parametrize(
    ("fineract_type", "category", "expected"),
    [
        ("LoanUndoApprovalBusinessEvent", "Loan", "loan.undoApproval"),
        ("LoanChargeOffPostBusinessEvent", "Loan", "loan.chargeOffPost"),
        ("LoanAccountsStayedLockedBusinessEvent", "Loan COB", "loan.accountsStayedLocked"),
        ("LoanOwnershipTransferBusinessEvent", "Investor", "investor.ownershipTransfer"),
        ("FixedDepositAccountCreateBusinessEvent", "Deposit", "fixeddeposit.accountCreate"),
        ("RecurringDepositAccountCreateBusinessEvent", "Deposit", "recurringdeposit.accountCreate"),
        ("GroupsCreateBusinessEvent", "Group", "group.create"),
        ("CentersCreateBusinessEvent", "Group", "center.create"),
        ("ShareProductDividentsCreateBusinessEvent", "Share", "share.productDividentsCreate"),
    ],
)
def test_other_types_get_family_dot_lower_camel_rest(
    fineract_type: str, category: str, expected: str
) -> None:
    assert dotted_type(fineract_type, category) == expected


@pytest.mark.parametrize(
    ("fineract_type", "category", "expected"),
    [
        ("ClientCloseBusinessEvent", "Client", "client.close"),
        ("ClientCloseBusinessEvent", None, "client.close"),
        ("ClientCloseBusinessEvent", "nocategory", "client.close"),
        ("LoanNPAChangedBusinessEvent", "Loan", "loan.npaChanged"),
        ("JournalEntryCreatedBusinessEvent", "Accounting", "accounting.journalEntryCreated"),
        ("SomethingNewBusinessEvent", None, "fineract.somethingNew"),
    ],
)
def test_unknown_future_types_are_named_by_the_same_rule(
    fineract_type: str, category: str | None, expected: str
) -> None:
    assert dotted_type(fineract_type, category) == expected


def test_every_catalog_type_has_a_payload_schema_in_the_folder(registry: SchemaRegistry) -> None:
    missing = {t: s for t, s in FINERACT_EVENT_SCHEMAS.items() if s not in registry}
    assert missing == {}


@pytest.mark.parametrize("seed", SEED_EVENT_TYPES)
def test_every_seed_name_is_a_valid_subscription(seed: str) -> None:
    validate_subscription(seed)
    assert seed in known_event_types()


@pytest.mark.parametrize("seed", SEED_EVENT_TYPES)
def test_every_seed_name_resolves_to_fineract_types_or_is_publish_only(seed: str) -> None:
    primaries = [t for t, name in SEED_PRIMARY.items() if name == seed]
    resolutions = [bool(primaries), seed in ALIASES, seed in PUBLISH_ONLY_TYPES]
    assert resolutions.count(True) == 1, seed


def test_publish_only_names_have_no_fineract_source() -> None:
    primaries = {dotted_type(t, c) for t, c in FINERACT_EVENT_TYPES.items()}
    assert not PUBLISH_ONLY_TYPES & primaries
    assert not PUBLISH_ONLY_TYPES & set(ALIASES)
    assert {"client.updated", "client.deleted", "system.businessDateChanged"} <= PUBLISH_ONLY_TYPES


def test_aliases_only_name_catalog_types() -> None:
    for alias, members in ALIASES.items():
        assert members, alias
        assert members <= set(FINERACT_EVENT_TYPES), alias


def test_known_event_types_are_sorted_and_include_primaries_and_aliases() -> None:
    names = known_event_types()
    assert names == sorted(names)
    assert {"loan.undoApproval", "loan.submitted", "transaction.created"} <= set(names)


def test_bulk_container_is_not_a_subscribable_type() -> None:
    assert "bulk.event" not in known_event_types()
    assert "BulkBusinessEvent" in CONTAINER_TYPES


def test_exact_dotted_type_matches() -> None:
    assert subscription_matches("loan.approved", "loan.approved", "LoanApprovedBusinessEvent")


def test_different_dotted_type_does_not_match() -> None:
    assert not subscription_matches("loan.rejected", "loan.approved", "LoanApprovedBusinessEvent")


def test_fineract_type_name_matches_its_own_events() -> None:
    assert subscription_matches(
        "LoanApprovedBusinessEvent", "loan.approved", "LoanApprovedBusinessEvent"
    )


def test_alias_matches_its_member_types() -> None:
    assert subscription_matches("loan.submitted", "loan.created", "LoanCreatedBusinessEvent")
    assert subscription_matches(
        "transaction.created", "loan.repayment", "LoanTransactionMakeRepaymentPostBusinessEvent"
    )
    assert subscription_matches(
        "transaction.created", "savings.deposit", "SavingsDepositBusinessEvent"
    )
    assert subscription_matches(
        "transaction.reversed", "loan.adjustTransaction", "LoanAdjustTransactionBusinessEvent"
    )


def test_alias_does_not_match_types_outside_it() -> None:
    assert not subscription_matches("loan.updated", "loan.approved", "LoanApprovedBusinessEvent")
    assert not subscription_matches(
        "transaction.created", "loan.adjustTransaction", "LoanAdjustTransactionBusinessEvent"
    )


def test_star_matches_everything() -> None:
    assert subscription_matches("*", "loan.approved", "LoanApprovedBusinessEvent")
    assert subscription_matches("*", "client.updated", None)


def test_family_wildcard_matches_its_family_only() -> None:
    assert subscription_matches("loan.*", "loan.undoApproval", "LoanUndoApprovalBusinessEvent")
    assert not subscription_matches("loan.*", "client.created", "ClientCreateBusinessEvent")


def test_alias_family_wildcard_matches_alias_members() -> None:
    assert subscription_matches(
        "transaction.*", "savings.withdrawal", "SavingsWithdrawalBusinessEvent"
    )
    assert not subscription_matches("transaction.*", "loan.approved", "LoanApprovedBusinessEvent")


def test_published_event_matches_its_exact_name_and_family_wildcard() -> None:
    assert subscription_matches("system.cobCompleted", "system.cobCompleted", None)
    assert subscription_matches("system.*", "system.businessDateChanged", None)


def test_published_event_with_alias_name_does_not_match_member_fineract_types() -> None:
    assert not subscription_matches("LoanCreatedBusinessEvent", "loan.submitted", None)


@pytest.mark.parametrize(
    "pattern",
    ["*", "loan.*", "transaction.*", "system.*", "LoanApprovedBusinessEvent", "loan.reAge"],
)
def test_valid_pattern_forms_are_accepted(pattern: str) -> None:
    validate_subscription(pattern)


@pytest.mark.parametrize(
    "pattern",
    ["loan.approve", "nothing.*", "*.created", "loan", "", "Loan.Approved", "BulkBusinessEvent"],
)
def test_invalid_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(ValidationError):
        validate_subscription(pattern)


def test_validation_error_lists_every_valid_type_in_details() -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_subscription("loan.aproved")

    valid = excinfo.value.details["validEventTypes"]
    assert set(known_event_types()) <= set(valid)
    assert {"*", "loan.*", "LoanApprovedBusinessEvent"} <= set(valid)


def test_validation_error_suggests_the_closest_names() -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_subscription("loan.aproved")

    assert "loan.approved" in excinfo.value.message


def test_validation_error_explains_bulk_events_are_unpacked() -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_subscription("BulkBusinessEvent")

    assert "unpacked" in excinfo.value.message
