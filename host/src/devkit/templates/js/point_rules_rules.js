// The rules of `{{name}}`, free of the host's types.

/** One point per `centsPerPoint` cents, rounded down. */
export function pointsFor(totalCents, centsPerPoint) {
  return Math.floor(Math.max(totalCents, 0) / Math.max(centsPerPoint, 1));
}
