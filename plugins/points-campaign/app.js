// `points-campaign`: promotional point rules as a `point-rules` component,
// built with componentize-js. One file: componentize-js takes a single ES
// module. The rules are plain functions (`orderOps`) so that `node --test`
// checks them without a wasm runtime.

const DEFAULTS = { unit_cents: 100, rate: 1, campaigns: [] };

/** The config with defaults filled in and campaign times parsed. */
export function parseConfig(json) {
  const cfg = { ...DEFAULTS, ...JSON.parse(json) };
  cfg.campaigns = (cfg.campaigns || []).map((c) => {
    const startsAt = Date.parse(c.starts_at);
    const endsAt = Date.parse(c.ends_at);
    if (Number.isNaN(startsAt) || Number.isNaN(endsAt)) {
      throw `invalid config: campaign ${c.name} needs RFC 3339 starts_at and ends_at`;
    }
    return {
      name: c.name,
      startsAt,
      endsAt,
      multiplier: c.multiplier ?? 1,
      categories: c.categories ?? null,
      thresholdCents: c.threshold_cents ?? null,
      thresholdBonus: c.threshold_bonus ?? 0,
    };
  });
  return cfg;
}

/** A campaign runs from `starts_at` (inclusive) to `ends_at` (exclusive). */
export function running(cfg, atMs) {
  return cfg.campaigns.filter((c) => c.startsAt <= atMs && atMs < c.endsAt);
}

// floor(x) read as exact decimals: 100 × 1.15 is 115, not 114.99….
function floorPoints(x) {
  return Math.floor(x + 1e-9);
}

/**
 * What one order earns: `[{points, reason}]`. Each item earns
 * floor(floor(qty × price / unit) × rate × m), m the highest multiplier of
 * the running campaigns covering its category (1 if none); each running
 * campaign whose threshold the order total reaches adds its bonus once.
 * `order` uses plain numbers: {orderId, totalCents, items:[{category, qty, priceCents}]}.
 */
export function orderOps(cfg, order, atMs) {
  const live = running(cfg, atMs);
  let itemPoints = 0;
  for (const item of order.items) {
    const units = Math.floor((item.qty * item.priceCents) / cfg.unit_cents);
    let m = 1;
    let covered = false;
    for (const c of live) {
      const covers = c.categories === null || (item.category != null && c.categories.includes(item.category));
      if (covers && (!covered || c.multiplier > m)) {
        m = c.multiplier;
        covered = true;
      }
    }
    itemPoints += floorPoints(units * cfg.rate * m);
  }
  const ops = [];
  if (itemPoints > 0) {
    ops.push({ points: itemPoints, reason: `order ${order.orderId}` });
  }
  for (const c of live) {
    if (c.thresholdCents !== null && order.totalCents >= c.thresholdCents && c.thresholdBonus > 0) {
      ops.push({ points: c.thresholdBonus, reason: `campaign ${c.name} bonus for order ${order.orderId}` });
    }
  }
  return ops;
}

export const loyalty = {
  onEvent(ctx, config, customer, event) {
    if (event.kind.tag !== 'order-placed') {
      return [];
    }
    const o = event.kind.val;
    const order = {
      orderId: o.orderId,
      totalCents: Number(o.totalCents),
      items: o.items.map((i) => ({
        category: i.category ?? null,
        qty: i.qty,
        priceCents: Number(i.priceCents),
      })),
    };
    return orderOps(parseConfig(config), order, Number(event.occurredAt)).map((op) => ({
      tag: 'earn',
      val: { points: BigInt(op.points), reason: op.reason, expiresAt: undefined },
    }));
  },
};
