import { test } from 'node:test';
import assert from 'node:assert/strict';

import { followUpAt } from './rules.js';

test('asks days later', () => {
  assert.equal(followUpAt(1_000n, 7), 1_000n + 7n * 86_400_000n);
  assert.equal(followUpAt(1_000n, -1), 1_000n);
});
