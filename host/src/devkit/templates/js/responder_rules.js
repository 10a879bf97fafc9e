// The rules of `{{name}}`, free of the host's types.

const DAY_MS = 86_400_000n;

/** When to ask about an order placed at `at` (BigInt milliseconds). */
export function followUpAt(at, days) {
  return at + BigInt(Math.max(days, 0)) * DAY_MS;
}
