from coalmine.notify import LocalSecrets
from tests.fixtures.notify import NOW, Receiver, send_rollback_alert


async def test_the_generic_webhook_gets_every_detail_as_data(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    delivery = await send_rollback_alert(receiver, secrets, "webhook")

    body = delivery.body
    assert body["name"] == "podinfo"
    assert body["namespace"] == "test"
    assert body["phase"] == "Failed"
    assert body["severity"] == "error"
    assert body["message"] == "Failed checks threshold reached 2"
    assert body["check"] == {
        "metric": "request-success-rate",
        "value": 80.0,
        "min": 99.0,
        "max": None,
        "range": ">= 99",
        "passed": False,
        "reason": "",
    }
    assert body["analysisSeconds"] == 180.0
    assert body["time"] == NOW.isoformat()
    assert {"name": "Phase", "value": "Failed"} in body["facts"]
