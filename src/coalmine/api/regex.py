"""Regexes checked as Envoy checks them: RE2 syntax and RE2's program size limit.

Istio hands `regex` matches to Envoy, which compiles them with Google's RE2 and refuses
(the whole configuration) a pattern RE2 cannot parse or whose compiled program is
larger than 100 instructions (runtime key `re2.max_program_size.error_level`). Python's
`re` accepts other things (look-arounds, back-references) and refuses others, so the
check uses RE2 itself, through the maintained `google-re2` binding.
"""

from __future__ import annotations

import re2

__all__ = ["ENVOY_MAX_PROGRAM_SIZE", "re2_problem"]

ENVOY_MAX_PROGRAM_SIZE = 100
"""Envoy's default error threshold for a compiled RE2 program."""

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print each refused pattern to stderr


def re2_problem(pattern: str) -> str | None:
    """Why Envoy would refuse `pattern`, or None when it would accept it."""
    try:
        compiled = re2.compile(pattern, options=_OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        return f"not a valid RE2 regex (Envoy's syntax): {text}"
    except (TypeError, ValueError) as error:  # e.g. a NUL byte
        return f"not a valid RE2 regex: {error}"
    size = int(compiled.programsize)
    if size > ENVOY_MAX_PROGRAM_SIZE:
        return (
            f"RE2 program size {size} is above Envoy's limit of {ENVOY_MAX_PROGRAM_SIZE}; "
            "shorten the pattern (fewer or smaller repetitions)"
        )
    return None
