"""Accounting what users saw: failed requests, for how long, and who answered."""

from __future__ import annotations

import pytest

from coalmine.demo.strategies.exposure import Exposure, Window, version_of
from coalmine.load import RequestOutcome

SHIPPED = 100.0


def answer(sent: float, status: int, version: str, took: float = 0.01) -> RequestOutcome:
    text = "ERROR: Something, somewhere, went wrong!" if status >= 500 else "Everything is OK,"
    body = f"{text} version {version}\n".encode()
    return RequestOutcome(SHIPPED + sent, SHIPPED + sent + took, status, None, body)


def failure(sent: float, kind: str = "connection_reset") -> RequestOutcome:
    return RequestOutcome(SHIPPED + sent, SHIPPED + sent + 0.01, None, kind)


@pytest.mark.parametrize(
    ("body", "version"),
    [
        (b"Everything is still OK, version 0.0.2\n", "0.0.2"),
        (b"ERROR: Something, somewhere, went wrong! version 0.0.1\n", "0.0.1"),
        (b"no healthy upstream", None),
        (b"", None),
    ],
)
def test_the_answering_release_is_read_from_the_body(body: bytes, version: str | None) -> None:
    assert version_of(body) == version


def test_failed_requests_and_the_faulty_releases_answers_are_counted_apart() -> None:
    outcomes = [
        answer(-1.0, 200, "0.0.1"),
        answer(0.5, 200, "0.0.2"),
        answer(1.0, 500, "0.0.2"),  # first failure, ended at 1.01
        answer(2.0, 200, "0.0.1"),
        failure(3.0),  # no answer: failed, nobody's answer
        answer(4.0, 503, "0.0.1"),  # a 5xx from the good release fails as well
        answer(5.0, 404, "0.0.1"),  # a 4xx is not a failure
        answer(6.0, 500, "0.0.2", took=0.5),  # last failure and last bad answer, ended 6.5
    ]
    exposure = Exposure.of(outcomes, shipped=SHIPPED, bad_version="0.0.2")
    assert (exposure.requests, exposure.failed, exposure.bad_answers) == (8, 4, 3)
    assert exposure.failing == Window(pytest.approx(1.01), pytest.approx(6.5))
    assert exposure.bad_serving is not None
    assert exposure.bad_serving.first == pytest.approx(0.51)
    assert exposure.bad_serving.seconds == pytest.approx(6.5 - 0.51)
    assert exposure.bad_after == 0


def test_nothing_failed_means_no_window() -> None:
    exposure = Exposure.of([answer(1.0, 200, "0.0.1")], shipped=SHIPPED, bad_version="0.0.2")
    assert (exposure.failed, exposure.failing, exposure.bad_serving) == (0, None, None)


def test_answers_from_the_faulty_release_to_requests_sent_after_the_undo_are_counted() -> None:
    outcomes = [answer(9.0, 500, "0.0.2"), answer(10.5, 200, "0.0.2"), answer(11, 200, "0.0.1")]
    exposure = Exposure.of(outcomes, shipped=SHIPPED, bad_version="0.0.2", undone=SHIPPED + 10)
    assert exposure.bad_after == 1


def test_the_timeline_counts_each_second_after_shipping_with_none_missing() -> None:
    outcomes = [
        answer(-1.5, 200, "0.0.1"),  # ended at -1.49: second -2
        answer(0.2, 500, "0.0.2"),
        answer(0.6, 200, "0.0.2"),
        answer(0.7, 200, "0.0.1"),
        answer(0.8, 200, "0.0.1"),
        answer(2.1, 200, "0.0.1"),
    ]
    timeline = Exposure.of(outcomes, shipped=SHIPPED, bad_version="0.0.2").timeline
    assert [(s.at, s.requests, s.bad_answers, s.failed) for s in timeline] == [
        (-2, 1, 0, 0),
        (-1, 0, 0, 0),
        (0, 4, 2, 1),
        (1, 0, 0, 0),
        (2, 1, 0, 0),
    ]
    assert [s.bad_share for s in timeline] == [0.0, 0.0, 50.0, 0.0, 0.0]
