"""`{{name}}`: a responder plugin in Python. Thanks a customer for each
order at once, and asks how it went `follow_up_days` (config) later —
unless they order again before then, which moves the question on. The
rules live in `rules.py`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.reactions import (
    Action_SendMessage,
    Action_SetTimer,
    Message,
    TimerRequest,
)
from wit_world.imports.types import EventKind_OrderPlaced, PluginError

import rules


def failed(message, code="plugin", retryable=False):
    """The host's error for `raise`: a code of your own, and `retryable`
    when a later try may succeed."""
    return Err(PluginError(code=code, message=message, retryable=retryable))


def follow_up_days(config):
    try:
        return json.loads(config).get("follow_up_days", 7)
    except ValueError as e:
        raise failed(f"the config is not JSON: {e}")


class Reactions(exports.Reactions):
    def on_event(self, ctx, config, customer, event):
        if not isinstance(event.kind, EventKind_OrderPlaced):
            return []
        variables = json.dumps({"order_id": event.kind.value.order_id})
        at = rules.follow_up_at(event.occurred_at, follow_up_days(config))
        return [
            Action_SendMessage(Message(channel="email", template="thank-you", vars=variables)),
            # Setting the same key again moves the one pending.
            Action_SetTimer(TimerRequest(key="follow-up", at=at, payload=variables)),
        ]

    def on_timer(self, ctx, config, customer, timer):
        return [Action_SendMessage(Message(channel="email", template="how-was-it", vars=timer.payload))]
