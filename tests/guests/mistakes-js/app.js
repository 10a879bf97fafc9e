// Fails or logs on request: {"mode": "throw" | "string" | "error" | "log"}.
import { write } from 'clientele:crm/log@0.2.0';

function rateFor(tier) {
  const rates = { silver: 2 };
  if (!(tier in rates)) {
    throw new Error(`no rate for tier ${tier}`);
  }
  return rates[tier];
}

export const loyalty = {
  onEvent(ctx, config, customer, event) {
    const mode = JSON.parse(config).mode ?? 'ok';
    if (mode === 'throw') {
      rateFor('gold');
    }
    if (mode === 'string') {
      throw 'no campaign covers this order';
    }
    if (mode === 'error') {
      throw { code: 'no-campaign', message: `nothing runs in ${ctx.timezone}`, retryable: false };
    }
    if (mode === 'log') {
      write('info', `saw ${event.id}`);
    }
    return [];
  },
};
