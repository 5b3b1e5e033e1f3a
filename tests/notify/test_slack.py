from coalmine.notify import LocalSecrets
from tests.fixtures.notify import Receiver, send_rollback_alert


async def test_slack_gets_text_and_a_coloured_attachment_with_fields(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    delivery = await send_rollback_alert(
        receiver, secrets, "slack", channel="on-call", username="canary-bot"
    )

    body = delivery.body
    assert delivery.content_type == "application/json"
    assert body["channel"] == "on-call"
    assert body["username"] == "canary-bot"
    assert isinstance(body["text"], str)
    assert "podinfo.test" in body["text"]
    assert "Failed" in body["text"]
    [attachment] = body["attachments"]
    assert attachment["color"] == "#A30200"  # danger red, for an error
    assert attachment["text"] == "Failed checks threshold reached 2"
    assert attachment["author_name"] == "podinfo.test"
    assert isinstance(attachment["fallback"], str)
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert all(isinstance(f["short"], bool) for f in attachment["fields"])
    assert fields["Phase"] == "Failed"
    # Slack markup: "<", ">" and "&" must be sent as entities.
    assert fields["Failed check"] == "request-success-rate 80.00, allowed &gt;= 99"
    assert fields["Analysis duration"] == "3m0s"
    assert fields["Target"] == "Deployment/podinfo.test"


async def test_slack_defaults_to_flaggers_channel_and_coalmines_name(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    delivery = await send_rollback_alert(receiver, secrets, "slack")

    assert delivery.body["channel"] == "general"
    assert delivery.body["username"] == "coalmine"
