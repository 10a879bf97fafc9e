// Fails or logs on request: {"mode": "throw" | "string" | "log"}.
import { write } from 'clientele:crm/log@0.1.0';

function rateFor(tier) {
  const rates = { silver: 2 };
  if (!(tier in rates)) {
    throw new Error(`no rate for tier ${tier}`);
  }
  return rates[tier];
}

export const loyalty = {
  onEvent(config, customer, event) {
    const mode = JSON.parse(config).mode ?? 'ok';
    if (mode === 'throw') {
      rateFor('gold');
    }
    if (mode === 'string') {
      throw 'no campaign covers this order';
    }
    if (mode === 'log') {
      write('info', `saw ${event.id}`);
    }
    return [];
  },
};
