"""A LoadPlan refuses what cannot work, naming the field; it knows how many requests it holds."""

import pytest

from coalmine.errors import CoalmineError
from coalmine.load import LoadPlan

URL = "http://127.0.0.1:8080/demo/hello"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"urls": ()}, "urls: give at least one URL"),
        ({"urls": ("127.0.0.1:8080/x",)}, "url '127.0.0.1:8080/x': must be an absolute http"),
        ({"urls": ("ftp://host/x",)}, "url 'ftp://host/x': must be an absolute http"),
        ({"rate": 0}, "rate: must be more than 0 requests per second, got 0"),
        ({"rate": float("inf")}, "rate: must be more than 0"),
        ({"duration": -1}, "duration: must be more than 0 seconds, got -1"),
        ({"timeout": 0}, "timeout: must be more than 0 seconds"),
        ({"max_in_flight": 0}, "max_in_flight: must be 1 or more, got 0"),
        ({"method": "GET /"}, "method: must be an HTTP method"),
    ],
)
def test_an_impossible_plan_names_the_field(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"urls": (URL,), "rate": 10, "duration": 1, **fields}
    with pytest.raises(CoalmineError, match="^" + message.replace("(", r"\(")):
        LoadPlan(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rate", "duration", "count"),
    [(100, 0.5, 50), (20, 0.1, 2), (3.3, 1, 4), (1, 0.2, 1), (0.5, 10, 5)],
)
def test_the_schedule_holds_one_request_per_tick_before_the_end(
    rate: float, duration: float, count: int
) -> None:
    assert LoadPlan(urls=(URL,), rate=rate, duration=duration).request_count == count
