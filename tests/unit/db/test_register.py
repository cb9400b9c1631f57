"""The data-lifecycle register covers exactly the schema (acceptance check 12)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from optin.config import RetentionSettings, retention_variable
from optin.db.models import Base
from optin.db.register import (
    INFRASTRUCTURE_TABLES,
    REGISTER,
    Category,
    Keep,
    PurgedAfter,
    Reader,
    items,
    problems,
    schema_columns,
)
from optin.services.retention import PURGES

# BRIEF 3.3: the data model has no loyalty or membership identifier, so it cannot be joined with
# membership-card data.
LINKABLE_ID = re.compile(
    r"(^|_)(loyalty|member|membership|rewards?|points|card_?(no|number)|frequent_?flyer)(_|$)"
)


def test_every_model_table_and_column_is_registered() -> None:
    assert problems(schema_columns(Base.metadata)) == []


def test_a_missing_or_stale_entry_is_reported() -> None:
    tables = {name: set(columns) for name, columns in schema_columns(Base.metadata).items()}
    tables["subjects"].add("nickname")
    tables["events"].discard("distance")
    tables["payment_tokens"] = {"id"}
    del tables["audit_log"]

    assert problems(tables) == [
        "table payment_tokens is not in the data-lifecycle register",
        "register names table audit_log, which does not exist",
        "register names column events.distance, which does not exist",
        "column subjects.nickname is not in the data-lifecycle register",
    ]


def test_infrastructure_tables_are_registered_but_not_models() -> None:
    assert set(REGISTER) >= INFRASTRUCTURE_TABLES
    assert not INFRASTRUCTURE_TABLES & set(Base.metadata.tables)


def test_every_entry_says_what_why_how_long_and_who() -> None:
    for item in items():
        where = f"{item.table}.{item.column}"
        assert item.holds.strip(), where
        assert item.purpose.strip(), where
        assert item.retention.strip(), where
        assert item.readers, where
        assert isinstance(item.category, Category), where


def test_subject_link_names_a_registered_column() -> None:
    for name, table in REGISTER.items():
        if table.subject_link is not None:
            assert table.subject_link in table.columns, name


def test_tables_holding_personal_data_say_how_to_find_the_person() -> None:
    # Disclosure export and deletion walk these links (acceptance checks 10 and 11).
    for name, table in REGISTER.items():
        personal = any(
            column.category in {Category.PERSONAL, Category.BIOMETRIC_ENCRYPTED}
            for column in table.columns.values()
        )
        # Operators, their sessions and devices are staff data, not enrolled people's.
        if personal and name not in {"operators", "operator_sessions", "operator_devices"}:
            assert table.subject_link is not None, name


def test_no_role_reads_biometric_data_or_secrets() -> None:
    # Acceptance check 24: no role can obtain raw template vectors.
    for item in items():
        if item.category in {Category.BIOMETRIC_ENCRYPTED, Category.SECRET}:
            assert item.readers == {Reader.SERVICE}, f"{item.table}.{item.column}"


def test_no_loyalty_or_membership_identifier_anywhere() -> None:
    names = set(REGISTER)
    for table_name, table in Base.metadata.tables.items():
        names.add(table_name)
        names.update(column.name for column in table.columns)
    for entry in REGISTER.values():
        names.update(entry.columns)
    offenders = sorted(name for name in names if LINKABLE_ID.search(name.lower()))
    assert offenders == []


def test_the_loyalty_check_would_catch_one() -> None:
    for name in ("loyalty_id", "member_no", "membership_number", "card_number", "reward_id"):
        assert LINKABLE_ID.search(name), name
    for name in ("subject_ref", "last_change_seq", "retention_until", "checkpoint"):
        assert not LINKABLE_ID.search(name), name


def test_no_plaintext_face_vector_column() -> None:
    suspicious = re.compile(r"vector|encoding|embedding|descriptor|features?$")
    for table_name, table in Base.metadata.tables.items():
        for column in table.columns:
            assert not suspicious.search(column.name), f"{table_name}.{column.name}"
    templates = Base.metadata.tables["face_templates"]
    assert {column.name for column in templates.columns} == {
        "id",
        "subject_id",
        "model",
        "ciphertext",
        "created_at",
        "updated_at",
    }


# --- Retention rules: the text, the machine-readable rule and the sweep say the same -------------


def test_every_table_purged_after_a_period_has_a_purge_in_the_sweep_and_no_other() -> None:
    # The sweep's behaviour per table is tested in tests/integration/services/test_retention_sweep.
    purged = {name for name, table in REGISTER.items() if isinstance(table.rule, PurgedAfter)}
    assert set(PURGES) == purged


@pytest.mark.parametrize("name", sorted(REGISTER))
def test_the_retention_text_states_the_rule(name: str) -> None:
    table = REGISTER[name]
    if isinstance(table.rule, PurgedAfter):
        # The period in the text comes from the same setting the sweep purges by.
        assert table.rule.describe() in table.retention
        assert "purged" in table.retention
    else:
        assert isinstance(table.rule, Keep)
        assert "purged" not in table.retention, "nothing purges this table"


def test_a_period_is_described_with_its_value_unit_and_variable() -> None:
    rule = PurgedAfter("event_days")
    assert rule.describe() == "30 days by default (OPTIN_RETENTION_EVENT_DAYS)"
    assert rule.describe(RetentionSettings(event_days=1)) == "1 day (OPTIN_RETENTION_EVENT_DAYS)"
    assert PurgedAfter("provision_years").describe().startswith("3 years")


def test_a_rule_naming_no_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="no retention setting named event_weeks"):
        PurgedAfter("event_weeks")


def test_the_readme_lists_every_period_with_its_default() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    for period in fields(RetentionSettings):
        span = PurgedAfter(period.name).span(RetentionSettings())
        assert f"| `{retention_variable(period.name)}` | {span} |" in readme
