"""Fineract event type names → the hub's dotted event types, and subscription matching.

Webhooks and streams subscribe with dotted names (``loan.approved``), the vocabulary the original
service documented (25 seed names). Fineract emits ~100 class-named types
(``LoanApprovedBusinessEvent``). This module is the one place that relates the two.

Primary names
    Every Fineract type gets exactly one dotted type, which is what ``CanonicalEvent.type`` carries.
    Where a seed name describes exactly one Fineract type it is that type's primary name
    (``LoanApprovedBusinessEvent`` → ``loan.approved``; see ``SEED_PRIMARY``). All other types get a
    derived name:

    1. family: from the category (``Client`` → client, ``Loan``/``Loan COB`` → loan,
       ``Savings`` → savings, ``Investor`` → investor, ``Share`` → share, ``Bulk`` → bulk); the
       ``Deposit`` and ``Group`` categories are split by name prefix (fixeddeposit /
       recurringdeposit, group / center). Without a usable category the family comes from the
       name prefix; failing that from the category text lower-cased, else ``fineract``.
    2. name: drop the ``BusinessEvent`` suffix, drop one leading family word (``Client``, ``Loan``,
       ``Savings``, ``FixedDeposit``, ``RecurringDeposit``, ``Groups``/``Group``,
       ``Centers``/``Center``, ``Share``, ``Investor``, ``Bulk``), lower-camel the rest (a leading
       acronym is lower-cased as a whole: ``NPAChanged`` → ``npaChanged``). An empty rest becomes
       ``event``.

    So ``LoanUndoApprovalBusinessEvent`` → ``loan.undoApproval``, ``LoanChargeOffPostBusinessEvent``
    → ``loan.chargeOffPost``, ``LoanOwnershipTransferBusinessEvent`` (category Investor) →
    ``investor.ownershipTransfer``, ``FixedDepositAccountCreateBusinessEvent`` →
    ``fixeddeposit.accountCreate``. Types Fineract adds later get a name by the same rule.

Subscription aliases
    Seed names broader than one Fineract type, or naming a type that already has a primary name,
    are aliases: subscribing to one matches every Fineract type in its set (``ALIASES``).
    Events never carry an alias as their type. Decisions:

    - ``loan.submitted``: ``LoanCreatedBusinessEvent`` (a new loan *is* a submitted application).
    - ``loan.updated``: events that change an existing loan but have no more specific seed name:
      balance/status changes, officer, transfers, undo approval/disbursal, disbursement data,
      charges, schedule variations, re-age/re-amortize, interest recalculation, delinquency.
      COB snapshots, repayment-due notices and transactions are not "updates".
    - ``loan.rescheduled``: the three ``LoanRescheduledDue*`` events and
      ``LoanCloseAsRescheduleBusinessEvent`` (old loan closed because it was rescheduled).
    - ``transaction.created``: every loan transaction event whose payload is a transaction
      (``LoanTransactionDataV1``) except undos, plus savings deposit, withdrawal and interest
      posting.
    - ``transaction.reversed``: ``LoanAdjustTransactionBusinessEvent`` (reversal/adjustment) and
      the undo-transaction events. Fineract has no savings reversal event; undoing a disbursal
      arrives as ``loan.undoDisbursal`` with a loan snapshot, not here.

Names only ``publishEvent`` can carry
    ``client.updated``, ``client.deleted``, ``system.businessDateChanged`` and
    ``system.cobCompleted`` have no Fineract source in the 1.9-era catalog: Fineract emits no
    client update/delete, business-date or COB-finished external event.
    (``LoanAccountsStayedLockedBusinessEvent`` is raised only when COB left loans locked, so it
    is not a completion signal; it is ``loan.accountsStayedLocked``.) These names are accepted for
    subscriptions and match events published with exactly that type.

``loan.closed`` is ``LoanCloseBusinessEvent``, which Fineract raises for the explicit "close"
command; a loan paid off by its last repayment shows up as ``loan.statusChanged`` (inference from
the Fineract source, where only ``closeLoan`` raises ``LoanCloseBusinessEvent``).
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

from fineract_hub.errors import ValidationError

__all__ = [
    "ALIASES",
    "CONTAINER_TYPES",
    "FINERACT_EVENT_SCHEMAS",
    "FINERACT_EVENT_TYPES",
    "PUBLISH_ONLY_TYPES",
    "SEED_EVENT_TYPES",
    "SEED_PRIMARY",
    "dotted_type",
    "known_event_types",
    "known_families",
    "subscription_keys",
    "subscription_matches",
    "validate_subscription",
]

#: The 25 names of the original service's ``WebhookEventType`` enum, in its order.
SEED_EVENT_TYPES: tuple[str, ...] = (
    "client.created",
    "client.updated",
    "client.deleted",
    "client.activated",
    "client.rejected",
    "loan.created",
    "loan.updated",
    "loan.submitted",
    "loan.approved",
    "loan.rejected",
    "loan.disbursed",
    "loan.repayment",
    "loan.closed",
    "loan.writtenoff",
    "loan.rescheduled",
    "savings.created",
    "savings.approved",
    "savings.activated",
    "savings.deposit",
    "savings.withdrawal",
    "savings.closed",
    "transaction.created",
    "transaction.reversed",
    "system.businessDateChanged",
    "system.cobCompleted",
)

_P = "org.apache.fineract.avro."
_CLIENT = _P + "client.v1.ClientDataV1"
_LOAN = _P + "loan.v1.LoanAccountDataV1"
_LOAN_TXN = _P + "loan.v1.LoanTransactionDataV1"
_SAVINGS = _P + "savings.v1.SavingsAccountDataV1"
_SAVINGS_TXN = _P + "savings.v1.SavingsAccountTransactionDataV1"
_COMMAND = _P + "generic.v1.CommandProcessingResultV1"
_SHARE = _P + "share.v1.ShareAccountDataV1"


def _types(category: str, schema: str, *names: str) -> dict[str, tuple[str, str]]:
    return {f"{name}BusinessEvent": (category, schema) for name in names}


# Fineract's externalised event types (fineract-facts §1.8; develop as of 2024-10-24).
# fmt: off
_CATALOG: dict[str, tuple[str, str]] = {
    **_types("Client", _CLIENT, "ClientCreate", "ClientActivate", "ClientReject"),
    **_types(
        "Loan",
        _LOAN,
        "LoanCreated", "LoanApproved", "LoanUndoApproval", "LoanRejected", "LoanDisbursal",
        "LoanUndoDisbursal", "LoanUndoLastDisbursal", "LoanUpdateDisbursementData",
        "LoanStatusChanged", "LoanClose", "LoanCloseAsReschedule", "LoanBalanceChanged",
        "LoanApplyOverdueCharge", "LoanInterestRecalculation", "LoanReassignOfficer",
        "LoanRemoveOfficer", "LoanInitiateTransfer", "LoanAcceptTransfer", "LoanRejectTransfer",
        "LoanWithdrawTransfer", "LoanRescheduledDueAdjustSchedule",
        "LoanRescheduledDueCalendarChange", "LoanRescheduledDueHoliday",
        "LoanScheduleVariationsAdded", "LoanScheduleVariationsDeleted", "LoanReAge",
        "LoanUndoReAge", "LoanReAmortize", "LoanUndoReAmortize", "LoanAccountSnapshot",
        "LoanAccountCustomSnapshot", "LoanAccountDelinquencyPauseChanged",
    ),
    **_types(
        "Loan",
        _LOAN_TXN,
        "LoanTransactionMakeRepaymentPost", "LoanDisbursalTransaction",
        "LoanTransactionDownPaymentPost", "LoanTransactionRecoveryPaymentPost",
        "LoanTransactionGoodwillCreditPost", "LoanTransactionMerchantIssuedRefundPost",
        "LoanTransactionPayoutRefundPost", "LoanTransactionInterestRefundPost", "LoanRefundPost",
        "LoanCreditBalanceRefundPost", "LoanChargeRefund",
        "LoanTransactionInterestPaymentWaiverPost", "LoanWaiveInterest", "LoanChargePaymentPost",
        "LoanChargeAdjustmentPost", "LoanChargebackTransaction", "LoanWrittenOffPost",
        "LoanUndoWrittenOff", "LoanChargeOffPost", "LoanUndoChargeOff", "LoanForeClosurePost",
        "LoanAccrualTransactionCreated", "LoanTransactionAccrualActivityPost",
        "LoanReAgeTransaction", "LoanUndoReAgeTransaction", "LoanReAmortizeTransaction",
        "LoanUndoReAmortizeTransaction",
    ),
    **_types("Loan", _P + "loan.v1.LoanTransactionAdjustmentDataV1", "LoanAdjustTransaction"),
    **_types(
        "Loan",
        _P + "loan.v1.LoanChargeDataV1",
        "LoanAddCharge", "LoanUpdateCharge", "LoanWaiveCharge", "LoanWaiveChargeUndo",
    ),
    **_types("Loan", _P + "loan.v1.LoanChargeDeletedV1", "LoanDeleteCharge"),
    **_types(
        "Loan", _P + "loan.v1.LoanAccountDelinquencyRangeDataV1", "LoanDelinquencyRangeChange"
    ),
    **_types(
        "Loan", _P + "loan.v1.LoanRepaymentDueDataV1", "LoanRepaymentDue", "LoanRepaymentOverdue"
    ),
    **_types("Loan", _P + "loan.v1.LoanProductDataV1", "LoanProductCreate"),
    **_types(
        "Loan COB", _P + "loan.v1.LoanAccountsStayedLockedDataV1", "LoanAccountsStayedLocked"
    ),
    **_types("Investor", _P + "loan.v1.LoanOwnershipTransferDataV1", "LoanOwnershipTransfer"),
    **_types(
        "Savings",
        _SAVINGS,
        "SavingsCreate", "SavingsApprove", "SavingsActivate", "SavingsReject", "SavingsClose",
        "SavingsPostInterest",
    ),
    **_types("Savings", _SAVINGS_TXN, "SavingsDeposit", "SavingsWithdrawal"),
    **_types(
        "Deposit", _P + "fixeddeposit.v1.FixedDepositAccountDataV1", "FixedDepositAccountCreate"
    ),
    **_types(
        "Deposit",
        _P + "recurringdeposit.v1.RecurringDepositAccountDataV1",
        "RecurringDepositAccountCreate",
    ),
    **_types("Group", _COMMAND, "GroupsCreate", "CentersCreate"),
    **_types("Share", _SHARE, "ShareAccountCreate", "ShareAccountApprove"),
    **_types("Share", _P + "share.v1.ShareProductDataV1", "ShareProductDividentsCreate"),
    **_types("Bulk", _P + "BulkMessagePayloadV1", "Bulk"),
}
# fmt: on

#: Fineract type → category, exactly as Fineract writes them in ``MessageV1.category``.
FINERACT_EVENT_TYPES: dict[str, str] = {name: cat for name, (cat, _) in _CATALOG.items()}
#: Fineract type → full name of its payload schema (``MessageV1.dataschema``).
FINERACT_EVENT_SCHEMAS: dict[str, str] = {name: schema for name, (_, schema) in _CATALOG.items()}
#: Envelopes that wrap other events; they are unpacked, so nobody subscribes to them.
CONTAINER_TYPES: frozenset[str] = frozenset({"BulkBusinessEvent"})

#: Seed names that are the primary name of exactly one Fineract type.
SEED_PRIMARY: dict[str, str] = {
    "ClientCreateBusinessEvent": "client.created",
    "ClientActivateBusinessEvent": "client.activated",
    "ClientRejectBusinessEvent": "client.rejected",
    "LoanCreatedBusinessEvent": "loan.created",
    "LoanApprovedBusinessEvent": "loan.approved",
    "LoanRejectedBusinessEvent": "loan.rejected",
    "LoanDisbursalBusinessEvent": "loan.disbursed",
    "LoanTransactionMakeRepaymentPostBusinessEvent": "loan.repayment",
    "LoanCloseBusinessEvent": "loan.closed",
    "LoanWrittenOffPostBusinessEvent": "loan.writtenoff",
    "SavingsCreateBusinessEvent": "savings.created",
    "SavingsApproveBusinessEvent": "savings.approved",
    "SavingsActivateBusinessEvent": "savings.activated",
    "SavingsDepositBusinessEvent": "savings.deposit",
    "SavingsWithdrawalBusinessEvent": "savings.withdrawal",
    "SavingsCloseBusinessEvent": "savings.closed",
}


def _be(*names: str) -> frozenset[str]:
    return frozenset(f"{name}BusinessEvent" for name in names)


# fmt: off
_REVERSALS = _be(
    "LoanAdjustTransaction", "LoanUndoWrittenOff", "LoanUndoChargeOff",
    "LoanUndoReAgeTransaction", "LoanUndoReAmortizeTransaction",
)

#: Subscription alias → the Fineract types it matches.
ALIASES: dict[str, frozenset[str]] = {
    "loan.submitted": _be("LoanCreated"),
    "loan.updated": _be(
        "LoanBalanceChanged", "LoanStatusChanged", "LoanUndoApproval", "LoanUndoDisbursal",
        "LoanUndoLastDisbursal", "LoanUpdateDisbursementData", "LoanApplyOverdueCharge",
        "LoanInterestRecalculation", "LoanReassignOfficer", "LoanRemoveOfficer",
        "LoanInitiateTransfer", "LoanAcceptTransfer", "LoanRejectTransfer",
        "LoanWithdrawTransfer", "LoanScheduleVariationsAdded", "LoanScheduleVariationsDeleted",
        "LoanReAge", "LoanUndoReAge", "LoanReAmortize", "LoanUndoReAmortize",
        "LoanAccountDelinquencyPauseChanged", "LoanDelinquencyRangeChange", "LoanAddCharge",
        "LoanUpdateCharge", "LoanWaiveCharge", "LoanWaiveChargeUndo", "LoanDeleteCharge",
    ),
    "loan.rescheduled": _be(
        "LoanRescheduledDueAdjustSchedule", "LoanRescheduledDueCalendarChange",
        "LoanRescheduledDueHoliday", "LoanCloseAsReschedule",
    ),
    "transaction.created": frozenset(
        name
        for name, (_, schema) in _CATALOG.items()
        if schema == _LOAN_TXN and name not in _REVERSALS
    )
    | _be("SavingsDeposit", "SavingsWithdrawal", "SavingsPostInterest"),
    "transaction.reversed": _REVERSALS,
}
# fmt: on

#: Seed names no Fineract event carries; only ``publishEvent`` produces them.
PUBLISH_ONLY_TYPES: frozenset[str] = frozenset(
    {"client.updated", "client.deleted", "system.businessDateChanged", "system.cobCompleted"}
)

# Family words, longest first so ``Groups`` wins over ``Group``.
_PREFIX_FAMILY: tuple[tuple[str, str], ...] = (
    ("RecurringDeposit", "recurringdeposit"),
    ("FixedDeposit", "fixeddeposit"),
    ("Investor", "investor"),
    ("Savings", "savings"),
    ("Centers", "center"),
    ("Center", "center"),
    ("Client", "client"),
    ("Groups", "group"),
    ("Group", "group"),
    ("Share", "share"),
    ("Loan", "loan"),
    ("Bulk", "bulk"),
)
_CATEGORY_FAMILY: dict[str, str] = {
    "client": "client",
    "loan": "loan",
    "loan cob": "loan",
    "investor": "investor",
    "savings": "savings",
    "share": "share",
    "bulk": "bulk",
    # "Deposit" and "Group" need the name prefix to pick fixed/recurring, group/center.
}
_SUFFIX = "BusinessEvent"
_LEADING_ACRONYM = re.compile(r"^([A-Z]+)(?=[A-Z][a-z]|$|\d)")
_NOT_NAME = re.compile(r"[^a-z0-9]+")


def _lower_camel(name: str) -> str:
    match = _LEADING_ACRONYM.match(name)
    if match and len(match.group(1)) > 1:
        return match.group(1).lower() + name[match.end() :]
    return name[:1].lower() + name[1:]


def _split_prefix(name: str) -> tuple[str | None, str]:
    for prefix, family in _PREFIX_FAMILY:
        rest = name[len(prefix) :]
        # "Loan" + "Approved", not "Loans" + "..."; a lower-case letter would mean another word.
        if name.startswith(prefix) and not rest[:1].islower():
            return family, rest
    return None, name


def _derived(fineract_type: str, category: str | None) -> str:
    base = fineract_type.removesuffix(_SUFFIX) or fineract_type
    prefix_family, rest = _split_prefix(base)
    cat = (category or "").strip().lower()
    if cat == "nocategory":
        cat = ""
    family = _CATEGORY_FAMILY.get(cat)
    if family is None and cat in ("deposit", "group"):
        family = prefix_family or cat
    if family is None:
        family = prefix_family or _NOT_NAME.sub("", cat) or "fineract"
    return f"{family}.{_lower_camel(rest) if rest else 'event'}"


def dotted_type(fineract_type: str, category: str | None = None) -> str:
    """The primary dotted type of a Fineract event (category only matters for unknown types)."""
    primary = _PRIMARY.get(fineract_type)
    if primary is not None:
        return primary
    return _derived(fineract_type, category)


_PRIMARY: dict[str, str] = {
    name: SEED_PRIMARY.get(name) or _derived(name, category)
    for name, category in FINERACT_EVENT_TYPES.items()
}
_SUBSCRIBABLE_FINERACT = frozenset(FINERACT_EVENT_TYPES) - CONTAINER_TYPES
_KNOWN_DOTTED: frozenset[str] = frozenset(
    {_PRIMARY[name] for name in _SUBSCRIBABLE_FINERACT} | set(ALIASES) | set(SEED_EVENT_TYPES)
)
_FAMILIES: frozenset[str] = frozenset(name.partition(".")[0] for name in _KNOWN_DOTTED)
# family → Fineract types reachable through aliases of that family (``transaction.*``).
_FAMILY_ALIAS_MEMBERS: dict[str, frozenset[str]] = {
    family: frozenset().union(
        *(members for alias, members in ALIASES.items() if alias.startswith(family + "."))
    )
    for family in _FAMILIES
}
_FINERACT_TO_ALIASES: dict[str, frozenset[str]] = {
    name: frozenset(alias for alias, members in ALIASES.items() if name in members)
    for name in FINERACT_EVENT_TYPES
}


def known_families() -> list[str]:
    return sorted(_FAMILIES)


def known_event_types() -> list[str]:
    """Every dotted name a subscription may use: primaries, aliases and all seed names."""
    return sorted(_KNOWN_DOTTED)


@lru_cache(maxsize=4096)
def subscription_keys(event_type: str, fineract_type: str | None) -> frozenset[str]:
    """Every subscription pattern that matches this event.

    Lets a router index webhooks by their pattern and find the ones to call with a few dict
    lookups, instead of testing every webhook against every event.
    """
    family = event_type.partition(".")[0]
    keys = {"*", event_type, f"{family}.*"}
    if fineract_type:
        keys.add(fineract_type)
        for alias in _FINERACT_TO_ALIASES.get(fineract_type, ()):
            keys.add(alias)
            keys.add(alias.partition(".")[0] + ".*")
    return frozenset(keys)


def subscription_matches(pattern: str, event_type: str, fineract_type: str | None) -> bool:
    """Whether a webhook/stream subscribed with ``pattern`` should receive this event."""
    return pattern in subscription_keys(event_type, fineract_type)


def _valid_patterns() -> list[str]:
    return sorted(_KNOWN_DOTTED | _SUBSCRIBABLE_FINERACT | {f"{f}.*" for f in _FAMILIES} | {"*"})


_VALID_PATTERNS: frozenset[str] = frozenset(_valid_patterns())


def validate_subscription(pattern: str) -> None:
    """Reject subscription patterns that could never match, listing what would."""
    if pattern in _VALID_PATTERNS:
        return
    if pattern in CONTAINER_TYPES:
        hint = " Bulk events are unpacked into their items; subscribe to the item types."
    else:
        close = difflib.get_close_matches(pattern, _VALID_PATTERNS, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValidationError(
        f"unknown event type {pattern!r}.{hint} Use a dotted event type (e.g. loan.approved), "
        "an alias (" + ", ".join(sorted(ALIASES)) + "), a Fineract type name (e.g. "
        "LoanApprovedBusinessEvent), '*', or '<family>.*' with family one of "
        + ", ".join(sorted(_FAMILIES))
        + ". extensions.validEventTypes lists every accepted value.",
        details={"validEventTypes": _valid_patterns()},
    )
