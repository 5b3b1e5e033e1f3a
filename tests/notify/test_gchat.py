from coalmine.notify import LocalSecrets
from tests.fixtures.notify import Receiver, send_rollback_alert


async def test_google_chat_gets_text_and_a_cards_v2_card(
    receiver: Receiver, secrets: LocalSecrets
) -> None:
    delivery = await send_rollback_alert(receiver, secrets, "gchat")

    body = delivery.body
    assert isinstance(body["text"], str)
    assert "podinfo.test: Failed checks threshold reached 2" in body["text"]
    [wrapper] = body["cardsV2"]
    assert isinstance(wrapper["cardId"], str)
    card = wrapper["card"]
    assert card["header"]["subtitle"] == "podinfo.test"
    [section] = card["sections"]
    headline, *facts = section["widgets"]
    assert "Failed checks threshold reached 2" in headline["textParagraph"]["text"]
    labelled = {w["decoratedText"]["topLabel"]: w["decoratedText"]["text"] for w in facts}
    assert labelled["Failed check"] == "request-success-rate 80.00, allowed &gt;= 99"
    assert labelled["Analysis duration"] == "3m0s"
    assert labelled["Phase"] == "Failed"
