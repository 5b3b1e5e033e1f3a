from pathlib import Path

from coalmine.api import Canary, load_file

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_workshop_canary_written_for_flagger_loads_unchanged() -> None:
    loaded = load_file(EXAMPLES / "workshop" / "canary.yaml")
    assert loaded.problems == []
    [canary] = loaded.resources
    assert isinstance(canary, Canary)
    assert canary.spec.analysis.effective_max_weight == 60
