"""Double-entry points ledger.

Every movement is a transfer of a positive integer number of points from a debit account to a
credit account, identified by an idempotency key. Transfers are never edited: a two-phase
transfer is a PENDING row followed by exactly one POST or VOID row (a unique index on
`pending_id` makes "both" impossible). Member accounts carry running totals, updated in the same
transaction under a row lock taken in account-id order; program and partner accounts carry none,
so the many writers that share them never queue on one row.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NewType, NoReturn

from sqlalchemy import BigInteger, ColumnElement, Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra import prepared
from infra.database import insert_unless_exists
from infra.models import accounts, ledger_accounts, transfers
from infra.records import TransferRow
from loyalty import live, lot, posting
from loyalty.errors import InsufficientPoints, InvalidState, NotFound, ValidationFailed
from loyalty.idempotency import earlier, request_hash

# An account's id says whose it is: "member:<id>", "partner:<id>:clearing" or "program:<name>".
AccountId = NewType("AccountId", str)

ISSUANCE = AccountId("program:issuance")
REDEMPTION = AccountId("program:redemption")
EXPIRED = AccountId("program:expired")
MEMBER_PREFIX = "member:"


class TransferCode(StrEnum):
    """Why points moved; every transfer carries one."""

    EARN = "EARN"
    REFUND = "REFUND"
    REFERRAL_BONUS = "REFERRAL_BONUS"
    REFERRAL_EARN = "REFERRAL_EARN"
    REFERRAL_REFUND = "REFERRAL_REFUND"
    # Points a campaign added to a purchase, and a refund taking them back.
    CAMPAIGN = "CAMPAIGN"
    CAMPAIGN_REFUND = "CAMPAIGN_REFUND"
    REDEEM = "REDEEM"
    REDEMPTION_CANCEL = "REDEMPTION_CANCEL"
    EXCHANGE_OUT = "EXCHANGE_OUT"
    EXCHANGE_IN = "EXCHANGE_IN"
    EXCHANGE_FEE = "EXCHANGE_FEE"
    EXPIRY = "EXPIRY"
    MERGE = "MERGE"
    # An operator's correction, and points granted outside any purchase (demo data, tests).
    ADJUSTMENT = "ADJUSTMENT"


class Phase(StrEnum):
    SINGLE = "SINGLE"
    PENDING = "PENDING"
    POST = "POST"
    VOID = "VOID"


def member_account(member_id: int) -> AccountId:
    return AccountId(f"{MEMBER_PREFIX}{member_id}")


def partner_clearing_account(partner_id: int) -> AccountId:
    return AccountId(f"partner:{partner_id}:clearing")


def is_member_account(account_id: str) -> bool:
    return account_id.startswith(MEMBER_PREFIX)


def account_member(account_id: str) -> int:
    """The member whose account this is (a member account's name)."""
    return int(account_id.removeprefix(MEMBER_PREFIX))


def owning_member(debit: str, credit: str) -> int:
    """The member a transfer belongs to (and is stored with): the member whose account it
    debits, else the one it credits. A transfer always moves some member's points."""
    for account_id in (debit, credit):
        if is_member_account(account_id):
            return account_member(account_id)
    raise ValidationFailed("a transfer moves a member's points: one account must be a member's")


@dataclass(frozen=True, slots=True)
class Balance:
    member_id: int
    posted: int
    # Points held by pending transfers out of the account: not available to spend.
    held: int
    # Points on their way in (pending transfers into the account): not yet available.
    incoming: int

    @property
    def available(self) -> int:
        return self.posted - self.held


def balance_figures() -> dict[str, Any]:
    """A member's balance figures as SQL over its account row (what `balance_from_row`
    computes): posted, pending (held), available and incoming."""
    posted = accounts.c.posted_credits - accounts.c.posted_debits
    return {
        "posted": posted,
        "pending": accounts.c.pending_debits,
        "available": posted - accounts.c.pending_debits,
        "incoming": accounts.c.pending_credits,
    }


def balance_from_row(row: Any) -> Balance:
    return Balance(
        member_id=row.member_id,
        posted=row.posted_credits - row.posted_debits,
        held=row.pending_debits,
        incoming=row.pending_credits,
    )


# (debit side, credit side) column deltas per phase, as (column, sign) pairs.
_EFFECTS: dict[Phase, tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]] = {
    Phase.SINGLE: ((("posted_debits", 1),), (("posted_credits", 1),)),
    Phase.PENDING: ((("pending_debits", 1),), (("pending_credits", 1),)),
    Phase.POST: (
        (("pending_debits", -1), ("posted_debits", 1)),
        (("pending_credits", -1), ("posted_credits", 1)),
    ),
    Phase.VOID: ((("pending_debits", -1),), (("pending_credits", -1),)),
}


_AVAILABLE = posting.AVAILABLE


@functools.cache
def _account_change(phase: Phase, is_debit: bool) -> Any:
    """The UPDATE of one side of a transfer (built once per phase and side): adds `amount` to
    the phase's columns; new spending also needs cover (`amount` within available plus
    `overdraft`). A POST or VOID moves points that a PENDING already held."""
    effect = _EFFECTS[phase][0 if is_debit else 1]
    amount = bindparam("amount", type_=BigInteger)
    statement = (
        update(accounts)
        .where(accounts.c.member_id == bindparam("account_member"))
        .values({column: accounts.c[column] + amount if sign > 0 else accounts.c[column] - amount
                 for column, sign in effect})
        .returning(accounts.c.member_id, _AVAILABLE.label("available"))
    )  # fmt: skip
    if is_debit and phase in (Phase.SINGLE, Phase.PENDING):
        statement = statement.where(_AVAILABLE + bindparam("overdraft", type_=BigInteger) >= amount)
    return statement


async def apply_to_member_accounts(
    conn: AsyncConnection,
    entry: Any,
    *,
    overdraft: int,
    carry_lots: bool,
) -> None:
    """Change the member accounts' totals for transfer row `entry`, and their expiry lots."""
    phase = Phase(entry.phase)
    amount = entry.amount
    sides = [(entry.debit_account_id, True), (entry.credit_account_id, False)]
    # A fixed lock order (by account id) means two opposite transfers never deadlock.
    for account_id, is_debit in sorted(sides, key=lambda side: side[0]):
        if not is_member_account(account_id):
            continue
        changed = (await conn.execute(_account_change(phase, is_debit), {
            "account_member": account_member(account_id), "amount": amount,
            "overdraft": overdraft,
        })).first()  # fmt: skip
        if changed is None:
            await _refuse(conn, account_id, amount)
        await live.record(
            conn, live.Kind.POINTS, entry.created_at, member_id=changed.member_id,
            partner_id=entry.partner_id, subject=str(entry.id), state=entry.reason,
            points=live.available_change(phase, is_debit, amount), balance=changed.available,
            body={"phase": phase.value},
        )  # fmt: skip
        if carry_lots:
            await _carry_lots(conn, entry, changed.member_id, changed.available, is_debit)


async def _refuse(conn: AsyncConnection, account_id: str, amount: int) -> NoReturn:
    """Why an account's change was refused: it does not exist, or cannot cover `amount`."""
    exists = await conn.scalar(
        select(accounts.c.id).where(accounts.c.member_id == account_member(account_id))
        if is_member_account(account_id)
        else select(ledger_accounts.c.id).where(ledger_accounts.c.id == account_id)
    )
    if exists is None:
        raise NotFound(f"account {account_id} does not exist")
    raise InsufficientPoints(
        f"account {account_id} does not have {amount} points available",
        account=account_id,
        requested=amount,
    )


async def _carry_lots(
    conn: AsyncConnection, entry: Any, member_id: int, available_after: int, is_debit: bool
) -> None:
    phase = Phase(entry.phase)
    if is_debit and phase in (Phase.SINGLE, Phase.PENDING):
        await lot.draw(conn, member_id=member_id, transfer_id=entry.id, points=entry.amount)
    elif is_debit and phase is Phase.VOID:
        await lot.put_back(conn, transfer_id=entry.pending_id)
    elif not is_debit and phase in (Phase.SINGLE, Phase.POST):
        # Points that only pay back a negative balance open no lot.
        opened = min(entry.amount, max(0, available_after))
        if opened:
            await lot.open_lot(
                conn, member_id=member_id, transfer_id=entry.id, points=opened,
                earned_at=entry.created_at,
            )  # fmt: skip


async def transfer(
    conn: AsyncConnection,
    *,
    idempotency_key: str,
    debit: AccountId,
    credit: AccountId,
    amount: int,
    reason: TransferCode,
    reference: str | None = None,
    partner_id: int | None = None,
    pending: bool = False,
    overdraft: int = 0,
    carry_lots: bool = True,
    now: datetime | None = None,
) -> TransferRow:
    """Move `amount` points from `debit` to `credit`, posted at once or held as PENDING.

    The debit of a member account must be covered by its available balance (plus `overdraft`,
    which only refund reversals use). A member's debit draws its oldest lots, a posted credit
    opens a lot; `carry_lots=False` leaves lots alone for a caller that moves them itself (a
    merge). Replaying the key returns the first transfer; replaying it with other contents
    raises IDEMPOTENCY_CONFLICT. Runs inside the caller's transaction."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationFailed("a transfer moves a positive whole number of points")
    if debit == credit:
        raise ValidationFailed("a transfer needs two different accounts")
    phase = Phase.PENDING if pending else Phase.SINGLE
    fingerprint = request_hash(
        debit=debit, credit=credit, amount=amount, phase=phase, reason=reason,
        reference=reference, partner_id=partner_id,
    )  # fmt: skip
    values = {
        "member_id": owning_member(debit, credit),
        "idempotency_key": idempotency_key,
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount": amount,
        "phase": phase,
        "reason": reason,
        "reference": reference,
        "partner_id": partner_id,
        "request_hash": fingerprint,
        "created_at": now or datetime.now(UTC),
    }
    whole = _in_one_statement(conn, debit, credit, phase, carry_lots)
    if whole is not None:  # earning and spending, in a round trip or two
        row = await _whole_transfer(conn, whole, values, overdraft)
    else:
        row = await insert_unless_exists(conn, transfers, values)
    if row is None:
        replayed: TransferRow | None = await earlier(
            conn, transfers, fingerprint, idempotency_key,
            member_id=values["member_id"], idempotency_key=idempotency_key,
        )  # fmt: skip
        if replayed is None:  # the key's transfer, in this transaction's snapshot: always there
            raise InvalidState(f"transfer {idempotency_key!r} was not found to replay")
        return replayed
    if whole is None:
        await apply_to_member_accounts(conn, row, overdraft=overdraft, carry_lots=carry_lots)
    return row


async def _whole_transfer(
    conn: AsyncConnection, whole: Any, values: dict[str, Any], overdraft: int
) -> Any:
    """The transfer and its member account's totals in one statement (`_in_one_statement`),
    then a debit's lots; None when the key was used before."""
    debit, credit = values["debit_account_id"], values["credit_account_id"]
    amount = values["amount"]
    # (named apart from the accounts' columns, which the UPDATE would otherwise set)
    parameters = {f"new_{name}": value for name, value in values.items()}
    found = await prepared.rows(conn, whole, {**parameters, "overdraft": overdraft})
    # the transfer's own columns (by name: the account's member_id comes after them)
    row = prepared.leading(found[0], len(transfers.c)) if found else None
    member_id = found[0][len(transfers.c)] if found else None
    if row is not None and member_id is None:
        await _refuse(conn, credit if is_member_account(credit) else debit, amount)
    if row is not None and not is_member_account(credit):
        await conn.execute(posting.draw_lots(), {
            "owner": member_id, "for_transfer": row.id, "wanted": amount,
        })  # fmt: skip
    return row


def _in_one_statement(conn: AsyncConnection, debit: str, credit: str, phase: Phase,
                      carry_lots: bool) -> Any | None:  # fmt: skip
    """On PostgreSQL, the statement doing a whole transfer between a member and a program or
    partner account: a member earning (SINGLE credit) or spending (SINGLE or PENDING debit).
    None: the transfer takes the general path (SQLite, two members, posting, voiding)."""
    if conn.dialect.name != "postgresql" or not carry_lots:
        return None
    if is_member_account(credit) == is_member_account(debit):
        return None
    if is_member_account(credit):
        return posting.credit_member() if phase is Phase.SINGLE else None
    return posting.debit_member("posted_debits" if phase is Phase.SINGLE else "pending_debits")


async def take_back(
    conn: AsyncConnection,
    *,
    member_id: int,
    points: int,
    negative_limit: int,
    idempotency_key: str,
    reason: TransferCode,
    credit: AccountId,
    reference: str,
    partner_id: int | None = None,
    now: datetime | None = None,
) -> tuple[int, int | None]:
    """Take back points the member was credited, only down to `negative_limit` below zero (it
    may have spent them). Returns the points recovered and the transfer's id."""
    if points <= 0:
        return 0, None
    balance = await lock_member_balance(conn, member_id)
    recovered = max(0, min(points, balance.available + negative_limit))
    if not recovered:
        return 0, None
    reversal = await transfer(
        conn, idempotency_key=idempotency_key, debit=member_account(member_id), credit=credit,
        amount=recovered, reason=reason, reference=reference, partner_id=partner_id,
        overdraft=negative_limit, now=now,
    )  # fmt: skip
    return recovered, reversal.id


async def lock_member_balance(conn: AsyncConnection, member_id: int) -> Balance:
    """Read a member's balance holding its row lock until the transaction ends."""
    row = (
        await conn.execute(
            select(accounts)
            .where(accounts.c.member_id == member_id)
            # NO KEY UPDATE, as the UPDATEs of the totals take it: a plain FOR UPDATE would also
            # block the key-share locks that foreign keys to the account take (a transfer's
            # insert), deadlocking with a transaction that waits on this one.
            .with_for_update(key_share=True)
        )
    ).first()
    if row is None:
        raise NotFound(f"member {member_id} has no account")
    return balance_from_row(row)


def holding_lock(statement: Select[Any], member_id: ColumnElement[Any]) -> Select[Any]:
    """`statement`, which names one member in `member_id`, joined to that member's account and
    holding the account's row lock (as `lock_member_balance` takes it) until the transaction
    ends: the lock and a row it needs first (the quote that names the member) in one
    statement. What the transaction reads next, it reads under the lock."""
    return statement.join(accounts, accounts.c.member_id == member_id).with_for_update(
        of=accounts, key_share=True
    )


async def member_balances(conn: AsyncConnection, member_ids: Iterable[int]) -> list[Any]:
    """Rows of member accounts (member_id and the four totals) for the given members."""
    return list(
        await conn.execute(
            select(
                accounts.c.member_id,
                accounts.c.posted_debits,
                accounts.c.posted_credits,
                accounts.c.pending_debits,
                accounts.c.pending_credits,
            ).where(accounts.c.member_id.in_(list(member_ids)))
        )
    )
