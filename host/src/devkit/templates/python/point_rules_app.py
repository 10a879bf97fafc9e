"""`{{name}}`: a point-rules plugin in Python. The rules live in
`rules.py` (plain Python, tested by `test_rules.py`); this file turns the
host's types into them and back."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.loyalty import Earn, LedgerOp_Earn
from wit_world.imports.types import EventKind_OrderPlaced

import rules


class Loyalty(exports.Loyalty):
    def on_event(self, config, customer, event):
        try:
            cfg = json.loads(config)
        except ValueError as e:
            raise Err(f"the config is not JSON: {e}")
        if not isinstance(event.kind, EventKind_OrderPlaced):
            return []
        order = event.kind.value
        points = rules.points_for(order.total_cents, cfg.get("cents_per_point", 100))
        # The host refuses an earn of 0 points as invalid output.
        if points == 0:
            return []
        return [LedgerOp_Earn(Earn(points=points, reason=f"order {order.order_id}", expires_at=None))]
