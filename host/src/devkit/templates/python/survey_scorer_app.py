"""`{{name}}`: an NPS survey scorer in Python. The rules live in
`rules.py`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import PluginError

import rules


def failed(message, code="plugin", retryable=False):
    """The host's error for `raise`: a code of your own, and `retryable`
    when a later try may succeed."""
    return Err(PluginError(code=code, message=message, retryable=retryable))


class Scoring(exports.Scoring):
    def score(self, ctx, config, survey, response):
        if survey.kind != "nps":
            raise failed(f"this scorer knows nps surveys, not {survey.kind}")
        try:
            score = json.loads(response.answers)["score"]
        except (ValueError, KeyError):
            raise failed('an NPS answer is {"score": 0..10}')
        if not isinstance(score, int) or not 0 <= score <= 10:
            raise failed('an NPS answer is {"score": 0..10}')
        return json.dumps({"score": score, "group": rules.group(score)})

    def aggregate(self, ctx, config, survey, scored):
        groups = [json.loads(s)["group"] for s in scored]
        return json.dumps({"responses": len(groups), "nps": rules.nps(groups)})
