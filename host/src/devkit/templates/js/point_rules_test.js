import { test } from 'node:test';
import assert from 'node:assert/strict';

import { pointsFor } from './rules.js';

test('a point per hundred cents, rounded down', () => {
  assert.equal(pointsFor(12900, 100), 129);
  assert.equal(pointsFor(99, 100), 0);
});
