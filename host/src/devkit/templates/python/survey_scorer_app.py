"""`{{name}}`: an NPS survey scorer in Python. The rules live in
`rules.py`."""

import json

from componentize_py_types import Err
from wit_world import exports

import rules


class Scoring(exports.Scoring):
    def score(self, config, survey, response):
        if survey.kind != "nps":
            raise Err(f"this scorer knows nps surveys, not {survey.kind}")
        try:
            score = json.loads(response.answers)["score"]
        except (ValueError, KeyError):
            raise Err('an NPS answer is {"score": 0..10}')
        if not isinstance(score, int) or not 0 <= score <= 10:
            raise Err('an NPS answer is {"score": 0..10}')
        return json.dumps({"score": score, "group": rules.group(score)})

    def aggregate(self, config, survey, scored):
        groups = [json.loads(s)["group"] for s in scored]
        return json.dumps({"responses": len(groups), "nps": rules.nps(groups)})
