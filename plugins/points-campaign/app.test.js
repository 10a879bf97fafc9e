// Hand-computed cases for the campaign rules: `node --test` here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { orderOps, parseConfig, running } from './app.js';

const AT = Date.parse('2026-06-15T12:00:00Z');
const cfg = parseConfig(JSON.stringify({
  unit_cents: 100,
  rate: 1,
  campaigns: [
    { name: 'tea-week', starts_at: '2026-06-10T00:00:00Z', ends_at: '2026-06-17T00:00:00Z',
      multiplier: 3, categories: ['tea'], threshold_cents: 10000, threshold_bonus: 50 },
    { name: 'summer', starts_at: '2026-06-01T00:00:00Z', ends_at: '2026-09-01T00:00:00Z',
      multiplier: 1.5, categories: null, threshold_cents: null, threshold_bonus: 0 },
    { name: 'over', starts_at: '2026-01-01T00:00:00Z', ends_at: '2026-06-15T12:00:00Z',
      multiplier: 10, categories: null, threshold_cents: 1, threshold_bonus: 999 },
  ],
}));

test('campaigns run from start (inclusive) to end (exclusive)', () => {
  assert.deepEqual(running(cfg, AT).map((c) => c.name), ['tea-week', 'summer']);
  assert.deepEqual(running(cfg, Date.parse('2026-06-17T00:00:00Z')).map((c) => c.name), ['summer']);
});

test('each item takes the best covering campaign, floored per item', () => {
  const order = {
    orderId: 'o1',
    totalCents: 12345,
    items: [
      { category: 'tea', qty: 2, priceCents: 2550 },   // 51 units × 3 = 153
      { category: 'cups', qty: 1, priceCents: 1999 },  // 19 units × 1.5 = 28.5 → 28
      { category: null, qty: 3, priceCents: 1015 },    // 30 units × 1.5 = 45
    ],
  };
  assert.deepEqual(orderOps(cfg, order, AT), [
    { points: 226, reason: 'order o1' },
    { points: 50, reason: 'campaign tea-week bonus for order o1' },
  ]);
});

test('no campaign: multiplier 1; threshold below total: no bonus', () => {
  const plain = parseConfig('{"unit_cents": 50, "rate": 2}');
  const order = { orderId: 'o2', totalCents: 175, items: [{ category: 'tea', qty: 1, priceCents: 175 }] };
  // 3 units × 2 × 1.
  assert.deepEqual(orderOps(plain, order, AT), [{ points: 6, reason: 'order o2' }]);
  const small = { orderId: 'o3', totalCents: 9999, items: [{ category: 'tea', qty: 1, priceCents: 9999 }] };
  // 99 units × 3; 9999 < 10000: no bonus.
  assert.deepEqual(orderOps(cfg, small, AT), [{ points: 297, reason: 'order o3' }]);
});

test('decimal multipliers floor as exact decimals', () => {
  const c = parseConfig(JSON.stringify({ campaigns: [
    { name: 'x', starts_at: '2026-01-01T00:00:00Z', ends_at: '2027-01-01T00:00:00Z', multiplier: 1.15 }] }));
  const order = { orderId: 'o4', totalCents: 10000, items: [{ category: 'a', qty: 1, priceCents: 10000 }] };
  assert.deepEqual(orderOps(c, order, AT), [{ points: 115, reason: 'order o4' }]);
});

test('an empty order earns nothing', () => {
  assert.deepEqual(orderOps(cfg, { orderId: 'o5', totalCents: 0, items: [] }, AT), []);
});
