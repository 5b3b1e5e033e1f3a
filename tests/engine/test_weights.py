from typing import Any

import pytest
from tests.engine.builders import canary

from coalmine.engine import Routes
from coalmine.engine.weights import next_canary_weight, next_promotion_routes


def analysis(**fields: Any) -> Any:
    return canary({"stepWeight": None, "maxWeight": None, **fields}).spec.analysis


@pytest.mark.parametrize(
    ("fields", "weights"),
    [
        ({"stepWeight": 20, "maxWeight": 60}, [20, 40, 60]),
        ({"stepWeight": 30, "maxWeight": 50}, [30, 50]),  # stops at maxWeight, unlike Flagger
        ({"stepWeight": 25}, [25, 50, 75, 100]),
        ({"stepWeights": [1, 5, 25, 50]}, [1, 5, 25, 50]),
        ({"stepWeights": [10, 40, 80], "maxWeight": 50}, [10, 40, 50]),
    ],
)
def test_steps_up_to_the_max(fields: dict[str, Any], weights: list[int]) -> None:
    a = analysis(**fields)
    seen, weight = [], 0
    while weight < a.effective_max_weight:
        weight = next_canary_weight(a, weight)
        seen.append(weight)
    assert seen == weights


def test_promotion_in_one_step_or_by_step_weight_promotion() -> None:
    assert next_promotion_routes(analysis(stepWeight=20), Routes(40, 60)) == Routes(100, 0)
    stepped = analysis(stepWeight=20, stepWeightPromotion=50)
    assert next_promotion_routes(stepped, Routes(40, 60)) == Routes(90, 10)
    assert next_promotion_routes(stepped, Routes(90, 10)) == Routes(100, 0)
