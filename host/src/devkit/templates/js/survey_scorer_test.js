import { test } from 'node:test';
import assert from 'node:assert/strict';

import { group, nps } from './rules.js';

test('groups and score', () => {
  assert.equal(group(10), 'promoter');
  assert.equal(group(7), 'passive');
  assert.equal(group(0), 'detractor');
  assert.equal(nps(['promoter', 'promoter', 'detractor', 'passive']), 25);
});
