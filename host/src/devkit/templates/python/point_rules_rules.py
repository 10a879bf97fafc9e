"""The rules of `{{name}}`, free of the host's types."""


def points_for(total_cents, cents_per_point):
    """One point per `cents_per_point` cents, rounded down."""
    return max(total_cents, 0) // max(cents_per_point, 1)
