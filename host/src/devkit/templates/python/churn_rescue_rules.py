"""The rules of `{{name}}`, free of the host's types."""


def risk(days, lapsed_days):
    """0 until the threshold, rising to 1 at twice it."""
    t = max(lapsed_days, 1)
    return min(max((days - t) / t, 0.0), 1.0)
