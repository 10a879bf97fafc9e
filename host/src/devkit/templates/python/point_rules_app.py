"""`{{name}}`: a point-rules plugin in Python. The rules live in
`rules.py` (plain Python, tested by `test_rules.py`); this file turns the
host's types into them and back."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.loyalty import Earn, LedgerOp_Earn
from wit_world.imports.types import EventKind_OrderPlaced, PluginError

import rules


def failed(message, code="plugin", retryable=False):
    """The host's error for `raise`: a code of your own, and `retryable`
    when a later try may succeed."""
    return Err(PluginError(code=code, message=message, retryable=retryable))


class Loyalty(exports.Loyalty):
    def on_event(self, ctx, config, customer, event):
        try:
            cfg = json.loads(config)
        except ValueError as e:
            raise failed(f"the config is not JSON: {e}")
        if not isinstance(event.kind, EventKind_OrderPlaced):
            return []
        order = event.kind.value
        points = rules.points_for(order.total_cents, cfg.get("cents_per_point", 100))
        # The host refuses an earn of 0 points as invalid output.
        if points == 0:
            return []
        return [LedgerOp_Earn(Earn(points=points, reason=f"order {order.order_id}", expires_at=None))]
