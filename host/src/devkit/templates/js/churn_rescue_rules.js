// The rules of `{{name}}`, free of the host's types.

/** 0 until the threshold, rising to 1 at twice it. */
export function risk(days, lapsedDays) {
  const t = Math.max(lapsedDays, 1);
  return Math.min(Math.max((days - t) / t, 0), 1);
}
