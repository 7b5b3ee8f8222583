"""The console's people (gateway/console): operators and partners' staff are not OAuth clients.
An operator invites them (the CLI or the console); the invitation link, good for a week, sets
a password, stored as an argon2 hash; a sign-in opens a session whose token only the cookie
holds (its SHA-256 here), until it expires, the person signs out, or an operator disables them.
Whom a signed-in person acts as is a `Principal`, so the console asks auth.ownership what it
may see and do, as the graph does."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, insert, select, update

from auth import audit, totp
from auth.principal import Principal, PrincipalKind, Scope
from auth.throttle import AuthenticationThrottle, Refused
from infra.database import Database
from infra.models import console_sessions, console_users, partners
from infra.partner_records import ConsoleUserRow
from loyalty.errors import InvalidState, NotFound, ValidationFailed

INVITATION_LIFETIME = timedelta(days=7)
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 12
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_HASHER = PasswordHasher()
# Verified when the e-mail is unknown, so a wrong address costs as long as a wrong password.
_NOBODY = _HASHER.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    OPERATOR = "OPERATOR"
    PARTNER_STAFF = "PARTNER_STAFF"


# What partner staff may do, as the scopes of a partner's client: read its statements and
# exchanges, and look after its clients.
STAFF_SCOPES = frozenset({Scope.SETTLEMENTS_READ.value, Scope.EXCHANGES_READ.value})


@dataclass(frozen=True, slots=True)
class Invitation:
    user: Any
    # The link's secret part, shown once (only its hash is stored).
    token: str


@dataclass(frozen=True, slots=True)
class Session:
    user: Any
    token: str
    csrf_token: str

    @property
    def principal(self) -> Principal:
        return principal_of(self.user)


class CodeNeeded(Exception):
    """The password was right and the person has a second factor: ask for its code."""

    def __init__(self, user: Any) -> None:
        super().__init__("the code of the authenticator app is needed")
        self.user = user


class SignInRefused(Exception):
    """Wrong e-mail or password (said the same way), or too many failures lately."""

    def __init__(self, retry_after: int | None = None) -> None:
        super().__init__("the e-mail address or the password is not right")
        self.retry_after = retry_after


def principal_of(user: Any) -> Principal:
    subject = f"console:{user.email}"
    if user.role == Role.OPERATOR:
        return Principal(PrincipalKind.OPERATOR, subject, frozenset({Scope.ADMIN.value}))
    return Principal(PrincipalKind.PARTNER, subject, STAFF_SCOPES, partner_id=user.partner_id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalized_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email) or len(email) > 254:
        raise ValidationFailed("an e-mail address like name@example.com", argument="email")
    return email


async def invite(
    db: Database,
    by: Principal,
    *,
    email: str,
    role: Role,
    partner_id: int | None = None,
    now: datetime | None = None,
) -> Invitation:
    """Invite a person (again, if they have not accepted yet: the earlier link stops working).
    Only operators invite; partner staff belong to one partner."""
    if not by.is_admin:
        raise NotFound("no such page")
    email = normalized_email(email)
    if (role is Role.PARTNER_STAFF) != (partner_id is not None):
        raise ValidationFailed("partner staff belong to a partner; operators to none")
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    values = {
        "role": role,
        "partner_id": partner_id,
        "invitation_hash": _digest(token),
        "invitation_expires_at": now + INVITATION_LIFETIME,
        "invited_by": by.subject,
    }
    async with db.transaction() as conn:
        if (
            partner_id is not None
            and await conn.scalar(select(partners.c.id).where(partners.c.id == partner_id)) is None
        ):
            raise NotFound(f"partner {partner_id} does not exist")
        existing = (
            await conn.execute(select(console_users).where(console_users.c.email == email))
        ).first()
        if existing is not None and existing.activated_at is not None:
            raise InvalidState(f"{email} has an account already")
        if existing is None:
            user = (
                await conn.execute(
                    insert(console_users)
                    .values(email=email, created_at=now, **values)
                    .returning(*console_users.c)
                )
            ).one()
        else:
            user = (
                await conn.execute(
                    update(console_users)
                    .where(console_users.c.id == existing.id)
                    .values(**values)
                    .returning(*console_users.c)
                )
            ).one()
        await audit.insert_entry(conn, by, "console.invite", target=email, now=now)
    return Invitation(user=user, token=token)


async def invited(db: Database, token: str, *, now: datetime | None = None) -> ConsoleUserRow:
    """The person a pending invitation is for; NOT_FOUND when the link is unknown or expired."""
    now = now or datetime.now(UTC)
    async with db.read() as conn:
        user = (
            await conn.execute(
                select(console_users).where(console_users.c.invitation_hash == _digest(token))
            )
        ).first()
    if user is None or user.invitation_expires_at <= now:
        raise NotFound("this invitation does not exist or has expired")
    return user


async def accept(
    db: Database, token: str, password: str, *, now: datetime | None = None
) -> ConsoleUserRow:
    """Set the password of an invited person; the link then stops working."""
    now = now or datetime.now(UTC)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"a password has at least {MIN_PASSWORD_LENGTH} characters", argument="password"
        )
    user = await invited(db, token, now=now)
    async with db.transaction() as conn:
        accepted = (
            await conn.execute(
                update(console_users)
                .where(
                    console_users.c.id == user.id, console_users.c.invitation_hash == _digest(token)
                )
                .values(
                    password_hash=_HASHER.hash(password),
                    invitation_hash=None,
                    invitation_expires_at=None,
                    activated_at=func.coalesce(console_users.c.activated_at, now),
                )
                .returning(*console_users.c)
            )
        ).first()
        if accepted is None:
            raise NotFound("this invitation does not exist or has expired")
        await audit.insert_entry(
            conn,
            principal_of(accepted),
            "console.accept_invitation",
            target=accepted.email,
            now=now,
        )
    return accepted


async def sign_in(
    db: Database,
    throttle: AuthenticationThrottle,
    *,
    email: str,
    password: str,
    address: str | None,
    now: datetime | None = None,
) -> Session:
    """A new session for the person, or SignInRefused. Failures are throttled per e-mail and
    per address and audited, as successes are."""
    now = now or datetime.now(UTC)
    email = email.strip().lower()[:254]
    await _unless_throttled(db, throttle, email, address, now)
    async with db.read() as conn:
        user = (
            await conn.execute(select(console_users).where(console_users.c.email == email))
        ).first()
    if user is None or not user.password_hash or user.disabled_at is not None:
        user = None
    if not _password_matches(user.password_hash if user else _NOBODY, password) or user is None:
        await _refuse(db, throttle, email, address, now)
    if user.totp_secret:
        raise CodeNeeded(user)
    await throttle.succeeded(email, address)
    return await _open_session(db, user, now)


async def complete_sign_in(
    db: Database,
    throttle: AuthenticationThrottle,
    *,
    user_id: int,
    code: str,
    address: str | None,
    now: datetime | None = None,
) -> Session:
    """The second step of a sign-in whose password was right: the authenticator's code, good
    once (throttled and audited as passwords are)."""
    now = now or datetime.now(UTC)
    async with db.read() as conn:
        user = (
            await conn.execute(select(console_users).where(console_users.c.id == user_id))
        ).one()
    await _unless_throttled(db, throttle, user.email, address, now)
    if user.disabled_at is not None or not await totp.take_code(db, user, code, now):
        await _refuse(db, throttle, user.email, address, now)
    await throttle.succeeded(user.email, address)
    return await _open_session(db, user, now)


async def _unless_throttled(
    db: Database, throttle: AuthenticationThrottle, email: str, address: str | None,
    now: datetime,
) -> None:  # fmt: skip
    blocked = await throttle.blocked(email, address)
    if blocked is not None:
        await _audit_refusal(db, email, "THROTTLED", now)
        raise SignInRefused(blocked.retry_after)


async def _refuse(
    db: Database, throttle: AuthenticationThrottle, email: str, address: str | None,
    now: datetime,
) -> NoReturn:  # fmt: skip
    refused: Refused | None = await throttle.failed(email, address)
    await _audit_refusal(db, email, "REFUSED", now)
    raise SignInRefused(refused.retry_after if refused else None)


async def set_second_factor(
    db: Database, current: Session, *, secret: str | None, code: str,
    now: datetime | None = None,
) -> ConsoleUserRow:  # fmt: skip
    """Turn the person's second factor on (`secret`, confirmed by a code of it) or off (None,
    confirmed by a code of the one in use)."""
    now = now or datetime.now(UTC)
    user = current.user
    if secret is not None and not totp.valid_secret(secret):
        raise ValidationFailed("that is not a secret this console made", argument="secret")
    if secret is not None and user.totp_secret:  # replacing it takes a code of it: off first
        raise ValidationFailed("two-step sign-in is on: turn it off with a code of it first",
                               argument="code")  # fmt: skip
    checked = secret if secret is not None else user.totp_secret
    if not checked or totp.matching_step(checked, code, now) is None:
        raise ValidationFailed("that code is not the authenticator's current one",
                               argument="code")  # fmt: skip
    async with db.transaction() as conn:
        changed = (await conn.execute(
            update(console_users).where(console_users.c.id == user.id)
            .values(totp_secret=secret, totp_last_step=None).returning(*console_users.c)
        )).one()  # fmt: skip
        action = "console.second_factor_on" if secret else "console.second_factor_off"
        await audit.insert_entry(conn, current.principal, action, target=user.email, now=now)
    return changed


async def sign_in_by_identity_provider(
    db: Database, *, email: object, verified: object, now: datetime | None = None
) -> Session:
    """A session for the operator whose e-mail address the company's identity provider
    vouched for (an operator invited and active here); SignInRefused otherwise, audited. Only
    the JSON boolean true is a `verified` claim (OIDC Core), never a string such as "false"."""
    email, verified = email if isinstance(email, str) else None, verified is True
    now = now or datetime.now(UTC)
    address = (email or "").strip().lower()
    async with db.read() as conn:
        user = (await conn.execute(select(console_users).where(
            console_users.c.email == address, console_users.c.role == Role.OPERATOR,
            console_users.c.activated_at.is_not(None), console_users.c.disabled_at.is_(None),
        ))).first()  # fmt: skip
    if user is None or not verified:
        await _audit_refusal(db, address or "(no e-mail)", "REFUSED", now)
        raise SignInRefused()
    return await _open_session(db, user, now)


async def _open_session(db: Database, user: Any, now: datetime) -> Session:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    async with db.transaction() as conn:
        await conn.execute(
            insert(console_sessions).values(
                token_hash=_digest(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
        await audit.insert_entry(
            conn, principal_of(user), "console.sign_in", target=user.email, now=now
        )
    return Session(user=user, token=token, csrf_token=csrf)


def _password_matches(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def _audit_refusal(db: Database, email: str, outcome: str, now: datetime) -> None:
    anonymous = Principal(PrincipalKind.ANONYMOUS, f"console:{email}")
    await audit.record(db, anonymous, "console.sign_in", target=email, outcome=outcome, now=now)


async def session(db: Database, token: str, *, now: datetime | None = None) -> Session | None:
    """The live session a cookie's token opens: not signed out, not expired, its person not
    disabled. None otherwise."""
    now = now or datetime.now(UTC)
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(console_users, console_sessions.c.csrf_token)
                .join(console_sessions, console_sessions.c.user_id == console_users.c.id)
                .where(
                    console_sessions.c.token_hash == _digest(token),
                    console_sessions.c.revoked_at.is_(None),
                    console_sessions.c.expires_at > now,
                    console_users.c.disabled_at.is_(None),
                )
            )
        ).first()
    if row is None:
        return None
    return Session(user=row, token=token, csrf_token=row.csrf_token)


async def sign_out(db: Database, current: Session, *, now: datetime | None = None) -> None:
    """The session's cookie opens nothing from now on, even if it is replayed."""
    now = now or datetime.now(UTC)
    async with db.transaction() as conn:
        await conn.execute(
            update(console_sessions)
            .where(console_sessions.c.token_hash == _digest(current.token))
            .values(revoked_at=now)
        )
        await audit.insert_entry(
            conn, current.principal, "console.sign_out", target=current.user.email, now=now
        )


async def people(
    db: Database, by: Principal, *, partner_id: int | None = None
) -> list[ConsoleUserRow]:
    """The console's people (or one partner's staff), for an operator."""
    if not by.is_admin:
        raise NotFound("no such page")
    query = select(console_users).order_by(console_users.c.email)
    if partner_id is not None:
        query = query.where(console_users.c.partner_id == partner_id)
    async with db.read() as conn:
        return list(await conn.execute(query))


async def ensure_person(
    db: Database,
    by: Principal,
    *,
    email: str,
    role: Role,
    password: str,
    partner_id: int | None = None,
    now: datetime | None = None,
) -> ConsoleUserRow:
    """A person with this password, invited and accepted at once unless they exist already
    (the demo's logins)."""
    email = normalized_email(email)
    async with db.read() as conn:
        existing = (
            await conn.execute(select(console_users).where(console_users.c.email == email))
        ).first()
    if existing is not None and existing.activated_at is not None:
        return existing
    made = await invite(db, by, email=email, role=role, partner_id=partner_id, now=now)
    return await accept(db, made.token, password, now=now)


async def set_disabled(
    db: Database, by: Principal, person_id: int, *, disabled: bool, now: datetime | None = None
) -> ConsoleUserRow:
    """Disable a person (their sessions stop opening anything at once, and they cannot sign
    in) or enable them again. Only operators, and never themselves."""
    if not by.is_admin:
        raise NotFound("no such page")
    now = now or datetime.now(UTC)
    async with db.transaction() as conn:
        person = (await conn.execute(
            update(console_users).where(console_users.c.id == person_id)
            .values(disabled_at=now if disabled else None).returning(*console_users.c)
        )).first()  # fmt: skip
        if person is None:
            raise NotFound(f"person {person_id} does not exist")
        if by.subject == f"console:{person.email}":
            raise InvalidState("an operator cannot disable themselves")
        await audit.insert_entry(conn, by, "console.disable" if disabled else "console.enable",
                                 target=person.email, now=now)  # fmt: skip
    return person
