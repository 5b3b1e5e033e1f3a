from coalmine.notify import LocalSecrets
from tests.fixtures.notify import Receiver, send_rollback_alert


async def test_teams_gets_a_message_card_with_facts(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    delivery = await send_rollback_alert(receiver, secrets, "msteams")

    card = delivery.body
    assert card["@type"] == "MessageCard"
    assert card["@context"] == "http://schema.org/extensions"
    assert card["themeColor"] == "A30200"  # hex without "#", as Teams wants it
    assert isinstance(card["summary"], str)
    assert "podinfo.test" in card["summary"]
    [section] = card["sections"]
    assert section["activityTitle"] == "Failed checks threshold reached 2"
    assert section["activitySubtitle"] == "podinfo.test"
    facts = {fact["name"]: fact["value"] for fact in section["facts"]}
    assert facts == {
        "Phase": "Failed",
        "Failed check": "request-success-rate 80.00, allowed >= 99",
        "Analysis duration": "3m0s",
        "Target": "Deployment/podinfo.test",
    }
