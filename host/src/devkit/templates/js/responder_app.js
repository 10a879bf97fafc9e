// `{{name}}`: a responder plugin in JavaScript. Thanks a customer for each
// order at once, and asks how it went `follow_up_days` (config) later —
// unless they order again before then, which moves the question on. The
// rules live in `rules.js`.
import { followUpAt } from './rules.js';

const followUpDays = (config) => JSON.parse(config).follow_up_days ?? 7;

export const reactions = {
  onEvent(ctx, config, customer, event) {
    if (event.kind.tag !== 'order-placed') {
      return [];
    }
    const vars = JSON.stringify({ order_id: event.kind.val.orderId });
    // Timestamps are BigInt.
    const at = followUpAt(event.occurredAt, followUpDays(config));
    return [
      { tag: 'send-message', val: { channel: 'email', template: 'thank-you', vars } },
      // Setting the same key again moves the one pending.
      { tag: 'set-timer', val: { key: 'follow-up', at, payload: vars } },
    ];
  },
  onTimer(ctx, config, customer, timer) {
    return [{ tag: 'send-message', val: { channel: 'email', template: 'how-was-it', vars: timer.payload } }];
  },
};
