from datetime import UTC, date, datetime

import pytest
from accord_kernel.domain_rules import ArgumentChecks, DomainError, ValidationFailed


class ServiceError(DomainError):
    code = "service_error"


class ServiceValidation(ValidationFailed, ServiceError):
    pass


checks = ArgumentChecks(ServiceValidation)


def test_refusals_are_the_service_s_own_errors() -> None:
    with pytest.raises(ServiceError) as err:
        checks.require_text("  ", "name")
    assert err.value.http_status == 422 and err.value.code == "validation_failed"
    assert err.value.details["field"] == "name"


def test_text_is_trimmed_and_bounded() -> None:
    assert checks.require_text("  Alex ", "name") == "Alex"
    with pytest.raises(ServiceValidation):
        checks.require_text("x" * 201, "name")
    assert checks.optional_text(None, "note") is None


def test_moments_must_be_aware_and_days_must_be_dates() -> None:
    assert checks.require_moment(datetime(2026, 1, 1, tzinfo=UTC), "at").year == 2026
    with pytest.raises(ServiceValidation):
        checks.require_moment(datetime(2026, 1, 1), "at")
    assert checks.require_day(date(2026, 1, 1), "on") == date(2026, 1, 1)
    with pytest.raises(ServiceValidation):
        checks.require_day(datetime(2026, 1, 1, tzinfo=UTC), "on")


def test_choices_and_flags_are_strict() -> None:
    assert checks.require_choice("a", "kind", ("a", "b")) == "a"
    with pytest.raises(ServiceValidation):
        checks.require_choice("c", "kind", ("a", "b"))
    with pytest.raises(ServiceValidation):
        checks.require_flag("false", "flag")
