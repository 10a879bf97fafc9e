// `{{name}}`: a point-rules plugin in JavaScript. The rules live in
// `rules.js` (plain JavaScript, tested by `rules.test.js`); this file turns
// the host's types into them and back. A thrown Error reaches the host with
// its message and stack.
import { pointsFor } from './rules.js';

export const loyalty = {
  onEvent(ctx, config, customer, event) {
    const cfg = JSON.parse(config);
    if (event.kind.tag !== 'order-placed') {
      return [];
    }
    const order = event.kind.val;
    const points = pointsFor(Number(order.totalCents), cfg.cents_per_point ?? 100);
    // The host refuses an earn of 0 points as invalid output.
    if (points === 0) {
      return [];
    }
    // s64 is a BigInt; an absent option is `undefined`.
    return [{ tag: 'earn', val: { points: BigInt(points), reason: `order ${order.orderId}`, expiresAt: undefined } }];
  },
};
