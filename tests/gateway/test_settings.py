from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

import pytest

from gateway.settings import ENVIRONMENT, Settings
from loyalty.promotions import benefit


def test_settings_default_to_embedded_sqlite_in_production_mode():
    settings = Settings.from_env({})

    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.environment == "production"
    assert settings.program.point_value == Decimal("0.01")


def test_a_program_file_overrides_the_rules_exactly(tmp_path):
    program_file = tmp_path / "program.toml"
    program_file.write_text('[program]\ncurrency = "EUR"\npoint_value = 0.005\n')

    settings = Settings.from_env({"POINTGATE_PROGRAM": str(program_file)})

    assert settings.program.currency == "EUR"
    assert settings.program.point_value == Decimal("0.005")


def test_a_misspelt_program_setting_is_an_error_not_a_silent_default(tmp_path):
    program_file = tmp_path / "program.toml"
    program_file.write_text("[program]\npoint_valu = 0.02\n")

    with pytest.raises(ValueError, match="point_valu"):
        Settings.from_env({"POINTGATE_PROGRAM": str(program_file)})


def test_a_program_file_sets_the_loyalty_rules_and_refuses_incoherent_tiers(tmp_path):
    program_file = tmp_path / "program.toml"
    program_file.write_text(
        "[program]\ngold_growth_threshold = 4000\ndiamond_bonus_percent = 6.5\nexpiry_months = 12\n"
    )
    incoherent = tmp_path / "incoherent.toml"
    incoherent.write_text("[program]\ngold_growth_threshold = 30000\n")

    program = Settings.from_env({"POINTGATE_PROGRAM": str(program_file)}).program

    assert (program.gold_growth_threshold, program.expiry_months) == (4000, 12)
    assert program.diamond_bonus_percent == Decimal("6.5")
    with pytest.raises(ValueError, match="gold < diamond"):
        Settings.from_env({"POINTGATE_PROGRAM": str(incoherent)})


def test_every_setting_has_one_variable_and_is_parsed_by_its_type():
    settings = Settings.from_env({
        "POINTGATE_MAX_DEPTH": "7", "POINTGATE_CORS_ORIGINS": "https://a.example, https://b.example",
        "POINTGATE_BACKGROUND_JOBS": "true", "POINTGATE_MEMBER_ISSUER": "",
        "POINTGATE_CONNECTOR_TIMEOUT": "1.5", "REDIS_URL": "redis://r:6379/0",
    })  # fmt: skip

    assert set(ENVIRONMENT) == {f.name for f in fields(Settings)} - {"program"}
    assert len(set(ENVIRONMENT.values())) == len(ENVIRONMENT)
    assert settings.max_depth == 7 and settings.max_aliases == Settings().max_aliases
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.background_jobs is True and settings.member_issuer is None
    assert settings.connector_timeout_seconds == 1.5
    assert settings.redis_url == "redis://r:6379/0"


def test_a_program_file_replaces_the_benefit_catalogue(tmp_path):
    program_file = tmp_path / "program.toml"
    program_file.write_text(
        "[program]\ngold_bonus_percent = 3\n"
        '[[program.benefits]]\ncode = "cashback"\nname = "Cashback"\ntiers = ["GOLD", "DIAMOND"]\n'
        'kind = "CASHBACK"\nvalue = "gold_bonus_percent"\n'
        '[[program.benefits]]\ncode = "lounge"\nname = "Airport lounge"\ntiers = ["DIAMOND"]\n'
        'kind = "FLAG"\n'
    )
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[[program.benefits]]\ncode = "x"\nname = "X"\ntiers = ["GOLD"]\n'
                     'kind = "COUPON_GRANT"\nvalue = "no_such_field"\n')  # fmt: skip

    program = Settings.from_env({"POINTGATE_PROGRAM": str(program_file)}).program

    assert [(b.code, b.tiers) for b in program.benefits] == [
        ("cashback", ("GOLD", "DIAMOND")), ("lounge", ("DIAMOND",)),
    ]  # fmt: skip
    assert [benefit.value_of(b, program) for b in benefit.benefits_of(program, "DIAMOND")] == [
        "3%", "true",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="names a program field"):
        Settings.from_env({"POINTGATE_PROGRAM": str(wrong)})
