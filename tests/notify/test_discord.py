from coalmine.notify import LocalSecrets
from coalmine.notify.discord import DiscordFormat
from tests.fixtures.notify import Receiver, send_rollback_alert


async def test_discord_posts_slack_attachments_to_the_slack_compatible_endpoint(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    delivery = await send_rollback_alert(receiver, secrets, "discord", username="deployer")

    assert delivery.path == "/hook/slack"
    body = delivery.body
    assert body["username"] == "deployer"
    assert "channel" not in body  # Discord ignores it: a webhook posts to its own channel
    [attachment] = body["attachments"]
    assert attachment["color"] == "#A30200"
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields["Failed check"] == "request-success-rate 80.00, allowed >= 99"
    assert fields["Analysis duration"] == "3m0s"


def test_an_address_written_for_flagger_keeps_working() -> None:
    endpoint = DiscordFormat().endpoint
    base = "https://discord.com/api/webhooks/1/token"
    assert endpoint(base) == f"{base}/slack"
    assert endpoint(f"{base}/slack") == f"{base}/slack"
    assert endpoint(f"{base}/") == f"{base}/slack"
    assert endpoint(f"{base}?thread_id=7") == f"{base}/slack?thread_id=7"
