import io
import json
import logging
from collections.abc import Iterator

import pytest

from coalmine.errors import CoalmineError
from coalmine.logs import canary_logger, configure_logging


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_canary_and_namespace(restore_root_logging: None) -> None:
    out = io.StringIO()
    configure_logging("debug", json_lines=True, stream=out)
    log = logging.getLogger("coalmine.engine.tick")

    canary_logger(log, "podinfo", "test").warning("Halt advancement %s", "podinfo.test")
    log.info("tick", extra={"canary": "web", "namespace": "shop"})
    log.info("no canary here")

    first, second, third = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["level"] == "warning"
    assert first["logger"] == "coalmine.engine.tick"
    assert first["message"] == "Halt advancement podinfo.test"
    assert (first["canary"], first["namespace"]) == ("podinfo", "test")
    assert first["time"].endswith("+00:00")
    assert (second["canary"], second["namespace"]) == ("web", "shop")
    assert "canary" not in third


def test_a_call_adds_its_own_extra_to_the_canary_fields(restore_root_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", json_lines=True, stream=out)
    log = canary_logger(logging.getLogger("coalmine.notify"), "podinfo", "test")

    log.info("sent", extra={"namespace": "override-not-lost"})

    line = json.loads(out.getvalue())
    assert line["canary"] == "podinfo"
    assert line["namespace"] == "override-not-lost"


def test_exceptions_are_kept_in_one_json_line(restore_root_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", json_lines=True, stream=out)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("coalmine").exception("tick failed")

    [line] = out.getvalue().splitlines()
    assert "RuntimeError: boom" in json.loads(line)["exception"]


def test_plain_lines_read_as_sentences_with_the_canary_in_brackets(
    restore_root_logging: None,
) -> None:
    out = io.StringIO()
    configure_logging("info", stream=out)

    canary_logger(logging.getLogger("coalmine.engine"), "podinfo", "test").info("Advance 20")
    logging.getLogger("coalmine.cli").info("started")

    canary_line, plain_line = out.getvalue().splitlines()
    assert canary_line.endswith("INFO coalmine.engine [podinfo.test] Advance 20")
    assert plain_line.endswith("INFO coalmine.cli started")


def test_configuring_again_replaces_the_handler_instead_of_doubling_lines(
    restore_root_logging: None,
) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", stream=first)
    configure_logging("info", json_lines=True, stream=second)

    logging.getLogger("coalmine").info("once")

    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


def test_levels_below_the_threshold_are_dropped(restore_root_logging: None) -> None:
    out = io.StringIO()
    configure_logging("warning", stream=out)
    logging.getLogger("coalmine").info("quiet")
    assert out.getvalue() == ""


def test_an_unknown_level_lists_the_valid_ones_and_changes_nothing(
    restore_root_logging: None,
) -> None:
    before = list(logging.getLogger().handlers)
    with pytest.raises(CoalmineError, match="debug, info, warning, error, critical"):
        configure_logging("loud")
    assert logging.getLogger().handlers == before
