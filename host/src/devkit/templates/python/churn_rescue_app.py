"""`{{name}}`: a churn-rescue plugin in Python. A customer whose last order
is more than `lapsed_days` (config) old is at risk; one at risk gets a
win-back message at once and the flow ends after a week. The rules live
in `rules.py`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.rescue import (
    Action_EndFlow,
    Action_Schedule,
    Action_SendMessage,
    Assessment,
    FlowEnd,
    FlowStatus,
    Message,
)
from wit_world.imports.types import Fitted, PluginError

import rules


def failed(message, code="plugin", retryable=False):
    """The host's error for `raise`: a code of your own, and `retryable`
    when a later try may succeed."""
    return Err(PluginError(code=code, message=message, retryable=retryable))


DAY_MS = 86_400_000


def lapsed_days(config):
    try:
        return json.loads(config).get("lapsed_days", 90)
    except ValueError as e:
        raise failed(f"the config is not JSON: {e}")


class Rescue(exports.Rescue):
    def fit(self, ctx, config, population):
        return Fitted(model=b"", summary=json.dumps({"customers": len(population.rows)}))

    def assess(self, ctx, config, model, customer, as_of):
        last = customer.stats.last_order_at
        days = 0 if last is None else max(as_of - last, 0) // DAY_MS
        risk = rules.risk(days, lapsed_days(config))
        return Assessment(
            p_alive=1.0 - risk,
            risk=risk,
            value_cents=customer.stats.net_spend_cents,
            details=json.dumps({"days_since_last_order": days}),
        )

    def plan(self, ctx, config, assessment, customer, current):
        # Leave a customer alone for 30 days after a flow of theirs ended.
        ended = current is not None and current.status in (FlowStatus.RESCUED, FlowStatus.EXPIRED)
        if ended and current.ended_at is not None and ctx.at - current.ended_at < 30 * DAY_MS:
            return []
        if assessment.risk < 0.5:
            return [Action_EndFlow(FlowEnd.SKIPPED)]
        return [
            Action_SendMessage(Message(channel="email", template="we-miss-you", vars="{}")),
            Action_Schedule((7 * 86_400, 1)),
        ]

    def on_timer(self, ctx, config, customer, flow):
        return [Action_EndFlow(FlowEnd.EXPIRED)]
