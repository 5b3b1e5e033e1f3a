import pytest

from coalmine.api.alert_provider import ALERT_PROVIDER_TYPES
from coalmine.errors import NotFound
from coalmine.notify import FORMATS, format_for


def test_every_type_the_resource_accepts_has_a_format() -> None:
    assert set(FORMATS) == set(ALERT_PROVIDER_TYPES)


def test_an_unknown_type_is_an_error_listing_the_valid_ones() -> None:
    with pytest.raises(NotFound) as error:
        format_for("pagerduty")
    assert "'pagerduty'" in str(error.value)
    for name in ALERT_PROVIDER_TYPES:
        assert name in str(error.value)
