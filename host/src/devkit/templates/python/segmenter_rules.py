"""The rules of `{{name}}`, free of the host's types."""


def is_vip(net_spend_cents, vip_cents):
    """A VIP from the threshold up."""
    return net_spend_cents >= vip_cents
