// `{{name}}`: a churn-rescue plugin in JavaScript. A customer whose last
// order is more than `lapsed_days` (config) old is at risk; one at risk gets
// a win-back message at once and the flow ends after a week. The rules live
// in `rules.js`.
import { risk } from './rules.js';

const DAY_MS = 86_400_000;
const lapsedDays = (config) => JSON.parse(config).lapsed_days ?? 90;

export const rescue = {
  fit(ctx, config, population) {
    return { model: new Uint8Array(), summary: JSON.stringify({ customers: population.rows.length }) };
  },
  assess(ctx, config, model, customer, asOf) {
    const last = customer.stats.lastOrderAt;
    const days = last === undefined ? 0 : Math.floor(Math.max(Number(asOf - last), 0) / DAY_MS);
    const r = risk(days, lapsedDays(config));
    return {
      pAlive: 1 - r,
      risk: r,
      valueCents: customer.stats.netSpendCents,
      details: JSON.stringify({ days_since_last_order: days }),
    };
  },
  plan(ctx, config, assessment, customer, current) {
    // Leave a customer alone for 30 days after a flow of theirs ended
    // (timestamps are BigInt).
    const ended = current && (current.status === 'rescued' || current.status === 'expired');
    if (ended && current.endedAt !== undefined && Number(ctx.at - current.endedAt) < 30 * DAY_MS) {
      return [];
    }
    if (assessment.risk < 0.5) {
      return [{ tag: 'end-flow', val: 'skipped' }];
    }
    return [
      { tag: 'send-message', val: { channel: 'email', template: 'we-miss-you', vars: '{}' } },
      { tag: 'schedule', val: [BigInt(7 * 86_400), 1] },
    ];
  },
  onTimer(ctx, config, customer, flow) {
    return [{ tag: 'end-flow', val: 'expired' }];
  },
};
