"""`survey-scoring`: the `survey-scorer` world in Python, built to a
component with componentize-py. The methods live in `surveys.py`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import survey_settings
from wit_world.imports.types import PluginError

import surveys


class Scoring(exports.Scoring):
    def score(self, ctx, config, survey, response):
        try:
            answers = json.loads(response.answers)
            return json.dumps(surveys.score(survey.kind, list(survey.questions), answers))
        except (surveys.Invalid, ValueError) as e:
            # A response that does not fit the survey is refused for good.
            raise Err(PluginError(code="invalid-response", message=str(e), retryable=False))

    def aggregate(self, ctx, config, survey, scored):
        try:
            docs = [json.loads(s) for s in scored]
            # The survey's own settings (ACSI's `weights`), new in 0.3.0.
            settings = json.loads(survey_settings.get(survey.id) or "{}")
            return json.dumps(surveys.aggregate(survey.kind, list(survey.questions), docs, settings))
        except (surveys.Invalid, ValueError, KeyError, TypeError) as e:
            raise Err(PluginError(code="aggregate", message=f"cannot aggregate: {e}", retryable=False))
