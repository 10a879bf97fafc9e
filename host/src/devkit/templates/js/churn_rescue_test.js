import { test } from 'node:test';
import assert from 'node:assert/strict';

import { risk } from './rules.js';

test('risk rises after the threshold', () => {
  assert.equal(risk(30, 90), 0);
  assert.equal(risk(135, 90), 0.5);
  assert.equal(risk(400, 90), 1);
});
