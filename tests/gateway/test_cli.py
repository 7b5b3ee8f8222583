"""The scheduled jobs as an operator runs them: `pointgate jobs expire|tiers`."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from infra import secrets

DATA_KEY = secrets.new_data_key()


def _environment(tmp_path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}",
            "POINTGATE_DATA_KEYS": DATA_KEY}  # fmt: skip


def pointgate(tmp_path, *arguments: str, data_keys: str = DATA_KEY) -> str:
    """Run the CLI with its output piped: what it prints on stdout (and nothing on stderr,
    where only a terminal gets progress bars)."""
    env = {**_environment(tmp_path), "POINTGATE_DATA_KEYS": data_keys}
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *arguments],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "━" not in done.stderr, done.stderr
    return done.stdout


def on_a_terminal(tmp_path, *arguments: str) -> str:
    """Run the CLI with a pseudo-terminal as stdout and stderr: everything it drew."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *arguments], env=_environment(tmp_path),
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        drawn += chunk
    assert process.wait(timeout=120) == 0, drawn.decode(errors="replace")
    os.close(leader)
    return drawn.decode(errors="replace")


def test_long_jobs_draw_a_progress_bar_on_a_terminal_only(tmp_path):
    pointgate(tmp_path, "migrate")

    seeded = on_a_terminal(tmp_path, "seed", "--members", "300", "--purchases", "3000")
    later = (datetime.now(UTC) + timedelta(days=3 * 366)).date().isoformat()
    expired = on_a_terminal(tmp_path, "jobs", "expire", "--at", later)
    piped = pointgate(tmp_path, "jobs", "tiers")

    # members, then purchases, then their credits: 300 + 3,000 + 3,000 units, all done
    assert "seeding" in seeded and "6300/6300" in seeded and "━" in seeded
    assert "seeded 300 members" in seeded
    assert "expiring points" in expired and "expired" in expired.splitlines()[-1]
    assert re.fullmatch(r"reviewed \d+ members, downgraded \d+\n", piped)


def test_the_expiry_job_expires_seeded_points_once_and_the_tier_review_runs(tmp_path):
    pointgate(tmp_path, "migrate")
    pointgate(tmp_path, "seed", "--members", "20", "--purchases", "200")

    # three years on, every seeded lot (earned within the last year) has expired
    later = datetime.now(UTC) + timedelta(days=3 * 366)
    first = pointgate(tmp_path, "jobs", "expire", "--at", later.date().isoformat())
    second = pointgate(tmp_path, "jobs", "expire", "--at", later.isoformat())
    review = pointgate(tmp_path, "jobs", "tiers")
    offers = pointgate(tmp_path, "jobs", "lifecycle", "--at", later.date().isoformat())
    offers_again = pointgate(tmp_path, "jobs", "lifecycle", "--at", later.isoformat())

    expired = re.fullmatch(r"expired (\d+) points of (\d+) members\n", first)
    assert expired and int(expired[1]) > 0 and int(expired[2]) == 20
    assert second == "expired 0 points of 0 members\n"
    assert re.fullmatch(r"reviewed \d+ members, downgraded \d+\n", review)
    # `seed` makes no offer templates (the demo does): every offer is off, every member checked
    assert offers.startswith("checked 20 members: 0 win-back, 0 retention, 0 birthday, 0 annual")
    assert offers_again.startswith("checked 20 members: 0 win-back")


def test_onboarding_a_partner_client_from_the_cli(tmp_path):
    pointgate(tmp_path, "migrate")
    pointgate(tmp_path, "seed", "--members", "2", "--purchases", "0")

    created = pointgate(
        tmp_path, "clients", "create", "--name", "Acme POS", "--partner", "acme-coffee",
        "--scopes", "purchases:write,members:read",
    )  # fmt: skip
    client_id = re.search(r"client_id:\s+(\S+)", created)[1]
    secret = re.search(r"client_secret:\s+(\S+)", created)[1]
    listed = pointgate(tmp_path, "clients", "list")
    widened = pointgate(tmp_path, "clients", "scopes", client_id, "--scopes",
                        "purchases:write,members:read,exchanges:read")  # fmt: skip
    rotated = pointgate(tmp_path, "clients", "rotate-secret", client_id, "--grace-hours", "1")
    revoked = pointgate(tmp_path, "clients", "revoke", client_id)
    member_token = pointgate(tmp_path, "token", "member", "1")

    assert client_id in listed and "members:read purchases:write" in listed
    assert widened == f"{client_id}: exchanges:read members:read purchases:write\n"
    assert secret not in listed
    assert re.search(r"client_secret:\s+\S+", rotated) and secret not in rotated
    assert revoked == f"revoked {client_id}\n"
    assert member_token.count(".") == 2


def test_a_partner_is_set_up_and_the_exchange_jobs_run_from_the_cli(tmp_path):
    pointgate(tmp_path, "migrate")

    created = pointgate(tmp_path, "partners", "create", "rail-club", "--name", "Rail Club")
    connector = pointgate(
        tmp_path,
        "partners",
        "connector",
        "rail-club",
        "--kind",
        "HTTP",
        "--url",
        "https://rail.example/pointgate",
        "--secret",
        "s3cret",
    )
    terms = pointgate(
        tmp_path,
        "partners",
        "terms",
        "rail-club",
        "--direction",
        "OUTBOUND",
        "--rate",
        "2.5",
        "--min",
        "100",
        "--max",
        "5000",
        "--step",
        "50",
        "--daily-cap",
        "10000",
    )
    listed = pointgate(tmp_path, "partners", "list")
    reconciled = pointgate(tmp_path, "jobs", "reconcile")
    webhooks = pointgate(tmp_path, "jobs", "webhooks")

    assert re.fullmatch(r"partner \d+ rail-club\n", created)
    assert connector == "rail-club: HTTP connector\n"
    assert terms == "rail-club: OUTBOUND terms from now\n"
    assert "rail-club\tACTIVE\tHTTP\tRail Club" in listed
    assert reconciled == "checked 0: posted 0, voided 0, still open 0\n"
    assert webhooks == "delivered 0, retrying 0, failed 0\n"


def test_finance_settles_a_month_from_the_cli(tmp_path):
    pointgate(tmp_path, "migrate")
    pointgate(tmp_path, "partners", "create", "rail-club", "--name", "Rail Club")
    pointgate(
        tmp_path,
        "partners",
        "rate-card",
        "rail-club",
        "--from",
        "2026-01-01",
        "--platform-fee",
        "49.50",
    )

    settled = pointgate(
        tmp_path,
        "settle",
        "--partner",
        "rail-club",
        "--period",
        "2026-10",
        "--close",
        "--csv",
        str(tmp_path / "lines.csv"),
        "--transfers-csv",
        str(tmp_path / "transfers.csv"),
        "--html",
        str(tmp_path / "report.html"),
    )

    assert settled == (
        "rail-club 2026-10 CLOSED in USD: partner pays 49.50, program pays 0.00, net 49.50\n"
    )
    assert "PLATFORM_FEE" in (tmp_path / "lines.csv").read_text()
    assert (tmp_path / "transfers.csv").read_text().startswith("kind,adjusts_period,transfer_id")
    report = (tmp_path / "report.html").read_text()
    assert "Platform fee (days in force x fee per day)" in report and "49.50" in report
    assert "No points moved at this partner in the month." in report


def test_operations_are_registered_for_allow_list_mode(tmp_path):
    pointgate(tmp_path, "migrate")
    (tmp_path / "app.graphql").write_text(
        "query Currency { program { ...Money } }\n"
        "query Me { me { id } }\n"
        "fragment Money on ProgramRules { currency pointValue }\n"
    )

    registered = pointgate(tmp_path, "operations", "register", str(tmp_path / "app.graphql"))

    names = [line.split()[1] for line in registered.splitlines()]
    assert names == ["Currency", "Me"]
    assert all(len(line.split()[0]) == 64 for line in registered.splitlines())


def test_every_option_of_every_command_says_what_it_does():
    import click
    import typer

    from gateway.cli import app as cli

    def commands(group: click.Command, prefix: str = "") -> list[tuple[str, click.Command]]:
        found = [(prefix.strip(), group)]
        for name, sub in getattr(group, "commands", {}).items():
            found += commands(sub, f"{prefix} {name}")
        return found

    silent = [
        f"{path or 'pointgate'} {param.name}"
        for path, command in commands(typer.main.get_command(cli))
        for param in command.params
        if isinstance(param, click.Option) and param.name != "help" and not param.help
    ]
    assert silent == []


def test_an_operator_invites_console_people_from_the_cli(tmp_path):
    pointgate(tmp_path, "migrate")
    pointgate(tmp_path, "partners", "create", "acme-coffee", "--name", "Acme Coffee")

    staff = pointgate(
        tmp_path, "console", "invite", "--email", "Clerk@Acme.example", "--partner",
        "acme-coffee", "--base-url", "https://console.example/",
    )  # fmt: skip
    operator = pointgate(tmp_path, "console", "invite", "--email", "ops@example.com")
    refused = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "console", "invite", "--email", "not an address"],
        env=_environment(tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert "invited clerk@acme.example (PARTNER_STAFF)" in staff
    assert re.search(r"^https://console\.example/console/invitations/[\w-]{43}$", staff, re.M)
    assert "invited ops@example.com (OPERATOR)" in operator
    assert refused.returncode != 0 and "name@example.com" in refused.stderr


def test_the_retention_job_and_an_erasure_on_request_from_the_cli(tmp_path):
    pointgate(tmp_path, "migrate")
    pointgate(tmp_path, "seed", "--members", "10", "--purchases", "60")

    erased = pointgate(tmp_path, "members", "erase", "3")
    again = pointgate(tmp_path, "members", "erase", "3")
    # three years on, every seeded member (active within the last year) is dormant
    later = (datetime.now(UTC) + timedelta(days=3 * 366)).date().isoformat()
    retained = pointgate(tmp_path, "members", "erase-dormant", "--days", "730", "--at", later)
    none_left = pointgate(tmp_path, "members", "erase-dormant", "--days", "730", "--at", later)

    assert erased == again == "erased member 3\n"
    assert retained == "erased 9 dormant members\n"  # the one erased already is not counted
    assert none_left == "erased 0 dormant members\n"


def test_a_data_key_rotation_reseals_the_contact_identities_from_the_cli(tmp_path):
    pointgate(tmp_path, "migrate")
    pointgate(tmp_path, "seed", "--members", "10", "--purchases", "0")
    rotated = f"{secrets.new_data_key()},{DATA_KEY}"

    first = pointgate(tmp_path, "keys", "reencrypt", data_keys=rotated)
    second = pointgate(tmp_path, "keys", "reencrypt", data_keys=rotated)
    migrated = pointgate(tmp_path, "migrate", data_keys=rotated.split(",")[0])

    # ten e-mails and five phones (no secret yet: the signing key is made when serving)
    assert first == "re-encrypted 0 secrets and 15 contact identities\n"
    assert second == "re-encrypted 0 secrets and 0 contact identities\n"
    assert migrated.endswith("jobs.db\n")  # the old key dropped: nothing left to seal
