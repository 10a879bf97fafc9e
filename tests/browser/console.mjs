// The console in a real browser (Debian's Chromium, driven by
// playwright-core), against the `clientele serve` that
// tests/tests/console.rs started and filled. Every step is what a merchant
// or an operator does; each page is screenshotted into $SHOTS.
//
// Env: BASE (the server), STORE and STORE_KEY (the merchant's store),
// RIVAL (another store, with a customer named in RIVAL_SECRET), ADMIN
// (the admin token), BROKEN (a store whose install has tripped), SHOTS.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const { BASE, STORE, STORE_KEY, RIVAL, RIVAL_SECRET, ADMIN, BROKEN, SHOTS, PUBLISH_MANIFEST, PUBLISH_WASM } = process.env;
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const timings = {};
let failures = 0;

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failures += 1;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}

/** Opens `path` and waits until the page has drawn itself. */
async function open(page, path) {
  const started = Date.now();
  const response = await page.goto(`${BASE}${path}`);
  await page.waitForSelector('body[data-ready="true"], main.sign-in', { timeout: 15000 });
  timings[path] = Date.now() - started;
  return response;
}

const shot = (page, name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

async function api(method, path, body, token = STORE_KEY) {
  const r = await fetch(`${BASE}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function signIn(page, token) {
  await open(page, '/sign-in');
  await page.getByLabel(/Store API key|店铺 API 密钥/).fill(token);
  await page.getByRole('button', { name: /Sign in|登录/ }).click();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
}

const merchant = await browser.newContext({ locale: 'en-US' });
const page = await merchant.newPage();

await step('a wrong key is refused on the sign-in page', async () => {
  await open(page, '/sign-in');
  await page.getByLabel(/Store API key/).fill('ck_wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#sign-in-error');
  assert.match(await page.textContent('#sign-in-error'), /not known/);
  await shot(page, '01-sign-in');
});

await step('a merchant signs in with the store key and sees the overview', async () => {
  await signIn(page, STORE_KEY);
  assert.equal(new URL(page.url()).pathname, `/stores/${STORE}`);
  const cookies = await merchant.cookies();
  const session = cookies.find((c) => c.name === 'clientele_session');
  assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
  assert.equal(session.sameSite, 'Strict');
  await page.waitForSelector('svg.chart');
  await shot(page, '02-overview');
});

await step('installing through the generated form shows a validation error on its field', async () => {
  await open(page, `/stores/${STORE}/plugins`);
  await shot(page, '03-plugins');
  await page.locator('[data-plugin="points-basic"] a', { hasText: 'Install' }).click();
  await page.waitForSelector('#install-form');
  // The older version, so that a later swap has one to roll back to.
  await open(page, `/stores/${STORE}/plugins/points-basic/install?version=1.0.0`);
  assert.equal(await page.inputValue('#version'), '1.0.0');
  const field = page.getByLabel('unit_cents', { exact: true });
  await field.fill('0');
  await page.getByRole('button', { name: 'Install' }).click();
  const error = page.locator('[data-field="config.unit_cents"] .field-error');
  await error.waitFor();
  assert.match(await error.textContent(), /minimum|1/);
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  await shot(page, '04-install-error');
  await field.fill('100');
  await page.getByRole('button', { name: 'Install' }).click();
  await page.waitForURL(`**/stores/${STORE}/plugins`);
  await page.waitForSelector('body[data-ready="true"]');
  assert.match(await page.textContent('main'), /Installed\./);
  assert.match(await page.textContent('main'), /points-basic@1\.0\.0/);
});

await step("events sent through the API show in the customer's points", async () => {
  await api('PUT', `/v1/stores/${STORE}/customers/li`, { name: 'Li Wei', email: 'li@example.cn' });
  await api('POST', `/v1/stores/${STORE}/events?wait=true`, {
    events: [
      { id: 'b-1', type: 'order.placed', customer_id: 'li', occurred_at: '2026-03-05T10:00:00Z', data: { order_id: 'o-1', total_cents: 123456, currency: 'CNY', items: [] } },
      { id: 'b-2', type: 'order.placed', customer_id: 'li', occurred_at: '2026-03-06T10:00:00Z', data: { order_id: 'o-2', total_cents: 5000, currency: 'CNY', items: [] } },
    ],
  });
  const balance = (await api('GET', `/v1/stores/${STORE}/customers/li/points`)).balance;
  assert.ok(balance > 0, `balance ${balance}`);
  // A fit grades li, the store's only buyer: grade A, shown on the page.
  await api('POST', `/v1/stores/${STORE}/models/fit?wait=true`, { as_of: '2026-04-01T00:00:00Z' });
  await open(page, `/stores/${STORE}/customers?q=wei`);
  await page.getByRole('link', { name: 'li', exact: true }).click();
  await page.waitForSelector('body[data-ready="true"]');
  const text = await page.textContent('main');
  assert.match(text, /Li Wei/);
  assert.ok(text.includes(new Intl.NumberFormat('en').format(balance)), `the page shows ${balance} points`);
  assert.match(text, /¥1,284\.56/, 'money in the store currency');
  assert.match(text, /A\s*Value grade/, 'the value grade among the stats (value, then label)');
  assert.match(text, /grade:A/, 'the grade among the segments, with its attributes');
  await shot(page, '05-customer');
});

await step('the retention page draws the cohort heat map, the rates and the complaints', async () => {
  // li ordered in March (above); wang's first order is in March, then April.
  await api('POST', `/v1/stores/${STORE}/events?wait=true`, {
    events: [
      { id: 'r-1', type: 'order.placed', customer_id: 'wang', occurred_at: '2026-03-20T10:00:00Z', data: { order_id: 'o-r1', total_cents: 8000, currency: 'CNY', items: [] } },
      { id: 'k-1', type: 'complaint.filed', customer_id: 'li', occurred_at: '2026-03-07T10:00:00Z', data: { complaint_id: 'cp-li-1', category: 'late-delivery', severity: 2 } },
    ],
  });
  await api('POST', `/v1/stores/${STORE}/events?wait=true`, {
    events: [{ id: 'r-2', type: 'order.placed', customer_id: 'wang', occurred_at: '2026-04-02T10:00:00Z', data: { order_id: 'o-r2', total_cents: 4000, currency: 'CNY', items: [] } }],
  });
  await open(page, `/stores/${STORE}/retention?period=month&from=2026-03-01&to=2026-04-30`);
  const cohort = await page.textContent('tr[data-cohort="2026-03"]');
  assert.match(cohort, /100%/, 'the March cohort is all active in March');
  assert.match(cohort, /50%/, 'half of it in April');
  const april = await page.textContent('tr[data-period="2026-04"]');
  assert.match(april, /50\.00%/, 'retention of March into April');
  assert.ok(await page.$('svg.chart'), 'the rates are drawn');
  assert.match(await page.textContent('tr[data-complaint="cp-li-1"]'), /late-delivery/);
  await shot(page, '05b-retention');
  // The customer's page lists their complaint.
  await open(page, `/stores/${STORE}/customers/li`);
  assert.match(await page.textContent('tr[data-complaint="cp-li-1"]'), /late-delivery/);
});

await step('a Kano survey is created and its report drawn as the better/worse scatter', async () => {
  await open(page, `/stores/${STORE}/surveys`);
  await page.getByLabel('ID', { exact: true }).fill('features-2026');
  await page.getByLabel('Kind').selectOption('kano');
  await page.getByLabel(/Questions/).fill('gift-wrap\nsame-day');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(`**/surveys/features-2026`);
  const answers = [
    { 'gift-wrap': ['like', 'neutral'], 'same-day': ['like', 'dislike'] },
    { 'gift-wrap': ['like', 'live_with'], 'same-day': ['must_be', 'dislike'] },
    { 'gift-wrap': ['neutral', 'neutral'], 'same-day': ['like', 'dislike'] },
  ];
  await api('POST', `/v1/stores/${STORE}/events?wait=true`, {
    events: answers.map((a, i) => ({
      id: `k-${i}`, type: 'survey.submitted', customer_id: `k${i}`, occurred_at: '2026-03-07T10:00:00Z',
      data: { survey_id: 'features-2026', answers: { features: Object.fromEntries(Object.entries(a).map(([k, [f, d]]) => [k, { functional: f, dysfunctional: d }])) } },
    })),
  });
  await open(page, `/stores/${STORE}/surveys/features-2026`);
  await page.waitForSelector('#kano svg circle[data-feature="gift-wrap"]');
  const text = await page.textContent('main');
  assert.match(text, /gift-wrap/);
  assert.match(text, /same-day/);
  await shot(page, '06-kano-report');
});

await step('an install rolls back to the version it ran before', async () => {
  const [install] = (await api('GET', `/v1/stores/${STORE}/installs`)).filter((i) => i.plugin === 'points-basic');
  await open(page, `/stores/${STORE}/installs/${install.install_id}`);
  await page.getByLabel('Swap to').selectOption({ label: 'points-basic@1.1.0' });
  await page.locator('#swap-form button[type=submit]').click();
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForFunction(() => document.querySelector('h1')?.textContent.includes('1.1.0'));
  await shot(page, '07-install');
  await open(page, `/stores/${STORE}/plugins`);
  await page.locator(`tr[data-install="${install.install_id}"] button`, { hasText: 'Roll back' }).click();
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForFunction(() => document.querySelector('main')?.textContent.includes('Rolled back.'));
  const after = await api('GET', `/v1/stores/${STORE}/installs/${install.install_id}`);
  assert.equal(after.version, '1.0.0');
});

await step('messages and delivery settings', async () => {
  await open(page, `/stores/${STORE}/messages`);
  await page.getByLabel('Sink').selectOption('webhook');
  await page.getByLabel('URL').fill('https://hooks.example.cn/clientele');
  await page.getByLabel('Signing secret').fill('short');
  await page.locator('#delivery-form button[type=submit]').click();
  await page.waitForSelector('#delivery-form .notice.bad');
  assert.match(await page.textContent('#delivery-form .notice.bad'), /secret|url/);
  await shot(page, '08-messages');
  await page.getByLabel('Sink').selectOption('log');
  await page.locator('#delivery-form button[type=submit]').click();
  await page.waitForFunction(() => document.querySelector('main')?.textContent.includes('Saved.'));
  assert.equal((await api('GET', `/v1/stores/${STORE}/delivery`)).kind, 'log');
});

await step("a customer's data is downloaded, then erased; the privacy page says who read what", async () => {
  await api('PUT', `/v1/stores/${STORE}/customers/gone-1`, { name: 'Wen Xiaoyu', email: 'wen.xiaoyu@example.cn' });
  await open(page, `/stores/${STORE}/customers/gone-1`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-customer').click()]);
  const path = await download.path();
  const { readFileSync } = await import('node:fs');
  const doc = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(doc.customer.email, 'wen.xiaoyu@example.cn');
  page.once('dialog', (d) => d.accept());
  await page.locator('#erase-customer').click();
  await page.waitForURL(`**/stores/${STORE}/privacy`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForFunction(() => document.querySelector('main')?.textContent.includes('erased_'));
  const text = await page.textContent('main');
  assert.match(text, /console \(store key\)/, 'the console session is counted as a reader');
  assert.ok(!text.includes('Wen Xiaoyu'));
  await shot(page, '08b-privacy');
  const gone = await page.evaluate(async (store) => (await fetch(`/v1/stores/${store}/customers/gone-1`)).status, STORE);
  assert.equal(gone, 404);
  await page.getByLabel(/Keep raw events/).fill('400');
  await page.locator('#privacy-form button[type=submit]').click();
  await page.waitForFunction(() => document.querySelector('main')?.textContent.includes('Saved.'));
  assert.equal((await api('GET', `/v1/stores/${STORE}/privacy`)).events_retention_days, 400);
});

await step("a merchant cannot open another store's page: 404, nothing of it in the HTML", async () => {
  const response = await page.goto(`${BASE}/stores/${RIVAL}/customers`);
  assert.equal(response.status(), 404);
  const html = await response.text();
  assert.ok(!html.includes(RIVAL_SECRET), 'no customer of the other store');
  const viaApi = await page.evaluate(async (rival) => (await fetch(`/v1/stores/${rival}/customers`)).status, RIVAL);
  assert.equal(viaApi, 404, 'nor through the API with the session');
  const ops = await page.goto(`${BASE}/ops`);
  assert.equal(ops.status(), 404, 'ops pages are the admin only');
});

await step('a write without the CSRF token is refused', async () => {
  await open(page, `/stores/${STORE}`);
  const status = await page.evaluate(async (store) => (await fetch(`/v1/stores/${store}/surveys`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'x', kind: 'nps', questions: [] }),
  })).status, STORE);
  assert.equal(status, 403);
});

await step('the language switch shows the console in Chinese', async () => {
  await open(page, `/stores/${STORE}`);
  await page.selectOption('#lang', 'zh');
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
  assert.match(await page.textContent('nav'), /概览/);
  assert.match(await page.textContent('nav'), /客户保持/);
  await shot(page, '09-overview-zh');
  await page.selectOption('#lang', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
});

await step('sign-out ends the session', async () => {
  await open(page, `/stores/${STORE}`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/sign-in');
  const r = await page.goto(`${BASE}/stores/${STORE}`);
  assert.equal(new URL(r.url()).pathname, '/sign-in');
});

const ops = await browser.newContext({ locale: 'zh-CN' });
const admin = await ops.newPage();

await step('the browser language picks Chinese on the sign-in page', async () => {
  await open(admin, '/sign-in');
  assert.match(await admin.textContent('h2'), /登录/);
});

await step('an operator signs in with the admin token and sees the tripped install', async () => {
  await signIn(admin, ADMIN);
  assert.equal(new URL(admin.url()).pathname, '/ops');
  // Publishing a version by upload.
  await admin.setInputFiles('#manifest', PUBLISH_MANIFEST);
  await admin.setInputFiles('#component', PUBLISH_WASM);
  await admin.locator('#publish-form button[type=submit]').click();
  await admin.waitForFunction(() => document.querySelector('main')?.textContent.includes('uploaded@2.0.0'));
  await admin.waitForSelector('body[data-ready="true"]');
  await shot(admin, '10-ops-plugins');
  await open(admin, '/ops/installs');
  const row = admin.locator('tr.tripped');
  await row.first().waitFor();
  assert.match(await row.first().textContent(), new RegExp(BROKEN));
  await shot(admin, '11-ops-health');
  await open(admin, '/ops/cluster');
  await shot(admin, '12-ops-cluster');
});

await step('every page is small and quick', async () => {
  for (const [path, ms] of Object.entries(timings)) {
    assert.ok(ms < 2000, `${path} took ${ms} ms`);
  }
  const sizes = await Promise.all(['/console/app.js', '/console/app.css'].map(async (p) => (await (await fetch(`${BASE}${p}`)).arrayBuffer()).byteLength));
  const total = sizes.reduce((a, b) => a + b, 0);
  assert.ok(total < 100 * 1024, `assets ${total} bytes`);
  console.log(`assets ${total} bytes; page loads ${JSON.stringify(timings)}`);
});

await browser.close();
if (failures) {
  console.log(`${failures} step(s) failed`);
  process.exit(1);
}
