// `{{name}}`: a segmenter in JavaScript. A customer whose net spend reaches
// `vip_cents` (config) is in `vip`. The rules live in `rules.js`.
import { isVip } from './rules.js';

const vipCents = (config) => JSON.parse(config).vip_cents ?? 30000;

export const segmentation = {
  fit(ctx, config, population) {
    const vip = vipCents(config);
    const count = population.rows.filter((r) => isVip(Number(r.netSpendCents), vip)).length;
    const fitted = { model: new Uint8Array(), summary: JSON.stringify({ vip_customers: count }) };
    // No `memberships`: the host classifies every customer with `classify`.
    // A segment that ranks the population can give every row's memberships
    // here instead (an array per row, in order).
    return { fitted, memberships: undefined };
  },
  classify(ctx, config, model, customer, asOf) {
    const spend = Number(customer.stats.netSpendCents);
    if (!isVip(spend, vipCents(config))) {
      return [];
    }
    return [{ segment: 'vip', attributes: JSON.stringify({ net_spend_cents: spend }) }];
  },
};
