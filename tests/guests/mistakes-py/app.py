"""Fails, logs and prints on request: `{"mode": "raise" | "err" | "log"}`."""

import json
import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log
from wit_world.imports.types import PluginError


def rate_for(tier):
    rates = {"silver": 2}
    return rates[tier]


class Loyalty(exports.Loyalty):
    def on_event(self, ctx, config, customer, event):
        mode = json.loads(config).get("mode", "ok")
        if mode == "raise":
            # An uncaught exception: its traceback is the author's message.
            return [rate_for("gold")]
        if mode == "err":
            raise Err(PluginError(code="no-campaign", message="no campaign covers this order", retryable=False))
        if mode == "log":
            log.write(log.Level.INFO, f"saw {event.id}")
            print(f"printed for {event.id}")
            print(f"complained about {event.id}", file=sys.stderr)
        return []
