import pytest

from coalmine.api.canary import AlertSeverity
from coalmine.notify import admits

INFO, WARN, ERROR = AlertSeverity.INFO, AlertSeverity.WARN, AlertSeverity.ERROR


@pytest.mark.parametrize(
    ("subscription", "alert", "sent"),
    [
        (INFO, INFO, True),
        (INFO, WARN, True),
        (INFO, ERROR, True),
        (WARN, INFO, False),
        (WARN, WARN, True),
        (WARN, ERROR, True),
        (ERROR, INFO, False),
        (ERROR, WARN, False),
        (ERROR, ERROR, True),
    ],
)
def test_a_subscription_gets_alerts_at_or_above_its_severity(
    subscription: AlertSeverity, alert: AlertSeverity, sent: bool
) -> None:
    assert admits(subscription, alert) is sent
