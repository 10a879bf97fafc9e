import { test } from 'node:test';
import assert from 'node:assert/strict';

import { isVip } from './rules.js';

test('a VIP from the threshold up', () => {
  assert.equal(isVip(30000, 30000), true);
  assert.equal(isVip(29999, 30000), false);
});
