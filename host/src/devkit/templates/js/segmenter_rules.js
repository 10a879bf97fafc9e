// The rules of `{{name}}`, free of the host's types.

/** A VIP from the threshold up. */
export function isVip(netSpendCents, vipCents) {
  return netSpendCents >= vipCents;
}
