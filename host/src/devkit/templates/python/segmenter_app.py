"""`{{name}}`: a segmenter in Python. A customer whose net spend reaches
`vip_cents` (config) is in `vip`. The rules live in `rules.py`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.segmentation import Membership, Segmented
from wit_world.imports.types import Fitted, PluginError

import rules


def failed(message, code="plugin", retryable=False):
    """The host's error for `raise`: a code of your own, and `retryable`
    when a later try may succeed."""
    return Err(PluginError(code=code, message=message, retryable=retryable))


def vip_cents(config):
    try:
        return json.loads(config).get("vip_cents", 30000)
    except ValueError as e:
        raise failed(f"the config is not JSON: {e}")


class Segmentation(exports.Segmentation):
    def fit(self, ctx, config, population):
        vip = vip_cents(config)
        count = sum(1 for r in population.rows if rules.is_vip(r.net_spend_cents, vip))
        fitted = Fitted(model=b"", summary=json.dumps({"vip_customers": count}))
        # memberships=None: the host classifies every customer with
        # `classify`. A segment that ranks the population can give every
        # row's memberships here instead (one list per row, in order).
        return Segmented(fitted=fitted, memberships=None)

    def classify(self, ctx, config, model, customer, as_of):
        spend = customer.stats.net_spend_cents
        if not rules.is_vip(spend, vip_cents(config)):
            return []
        return [Membership(segment="vip", attributes=json.dumps({"net_spend_cents": spend}))]
