"""Provider addresses: http(s) only; and hidden when objects are printed."""

from __future__ import annotations

import pytest

from coalmine.api.addresses import web_address
from coalmine.api.loading import load_text
from coalmine.api.redaction import HIDDEN, redact_object


@pytest.mark.parametrize("address", ["http://prometheus:9090", "https://x.example/prom"])
def test_web_addresses_pass(address: str) -> None:
    assert web_address(address) == address


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("file:///etc/passwd", "scheme must be http or https, got file://"),
        ("prometheus:9090", "scheme must be http or https"),
        ("/metrics", "scheme must be http or https, got none"),
        ("http://", "the URL has no host"),
    ],
)
def test_other_addresses_are_refused(address: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        web_address(address)


def test_a_metric_template_reading_a_file_is_invalid() -> None:
    loaded = load_text(
        "apiVersion: flagger.app/v1beta1\nkind: MetricTemplate\nmetadata: {name: t}\n"
        "spec: {provider: {address: 'file:///etc/passwd'}, query: up}\n"
    )
    assert [p.path for p in loaded.problems] == ["spec.provider.address"]


def test_secrets_are_hidden_in_printed_objects() -> None:
    provider = {"spec": {"type": "slack", "address": "https://hooks.slack.com/services/T/B/x"}}
    assert redact_object("AlertProvider", provider)["spec"]["address"] == (
        f"https://hooks.slack.com/{HIDDEN}"
    )
    assert provider["spec"]["address"].endswith("/x")  # the original is untouched
    template = {
        "spec": {
            "provider": {"address": "http://u:pw@prom:9090", "headers": {"Authorization": "t"}}
        }
    }
    hidden = redact_object("MetricTemplate", template)["spec"]["provider"]
    assert hidden == {"address": f"http://prom:9090/{HIDDEN}", "headers": {"Authorization": HIDDEN}}
    assert redact_object("Service", {"spec": {"x": 1}}) == {"spec": {"x": 1}}
