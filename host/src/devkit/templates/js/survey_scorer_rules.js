// The rules of `{{name}}`, free of the host's types.

/** 9-10 promoter, 7-8 passive, 0-6 detractor. */
export function group(score) {
  return score >= 9 ? 'promoter' : score >= 7 ? 'passive' : 'detractor';
}

/** Promoters minus detractors, in percent of all answers. */
export function nps(groups) {
  if (groups.length === 0) return 0;
  const count = (g) => groups.filter((x) => x === g).length;
  return (100 * (count('promoter') - count('detractor'))) / groups.length;
}
