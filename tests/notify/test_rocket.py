from coalmine.notify import LocalSecrets
from tests.fixtures.notify import Receiver, send_rollback_alert


async def test_rocket_chat_gets_the_slack_shape_with_its_alias(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    delivery = await send_rollback_alert(
        receiver, secrets, "rocket", channel="#releases", username="canary"
    )

    body = delivery.body
    assert body["channel"] == "#releases"
    assert body["alias"] == "canary"
    [attachment] = body["attachments"]
    assert attachment["color"].startswith("#")
    assert attachment["text"] == "Failed checks threshold reached 2"
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields["Failed check"] == "request-success-rate 80.00, allowed >= 99"
    assert fields["Analysis duration"] == "3m0s"
