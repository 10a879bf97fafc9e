"""The rules of `{{name}}`, free of the host's types."""

DAY_MS = 86_400_000


def follow_up_at(at, days):
    """When to ask about an order placed at `at` (milliseconds)."""
    return at + max(days, 0) * DAY_MS
