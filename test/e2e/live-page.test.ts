// The live page in a real browser: Debian's chromium, headless, driven by
// playwright-core, opens /cqrs/live on a whole mesh; orders created and paid
// through REST show up and reach PAID on the page without a reload, the
// inventory and statistics follow, nothing is loaded from elsewhere, and a
// screenshot is saved (test-results/live/).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { repoRoot } from '../../lib/paths';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { getJson, postJson } from '../support/http';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(repoRoot, 'test-results', 'live');
const PRODUCT = 4_242;

let mesh: TestMesh;
let browser: Browser | undefined;

beforeAll(async () => {
  mesh = await startTestMesh({ vhostPrefix: 'live-page' });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await mesh?.teardown();
}, 60_000);

const edge = (path: string) => `${mesh.urls.edge}${path}`;

test('the page shows an order reach PAID, the stock it took and the statistics, live', async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: \`npm run test:tools\` installs Debian's chromium`);
  expect((await postJson(edge('/cqrs/commands/inventory'), { product_id: PRODUCT, product_name: 'Live Lamp', unit_price: 12.5, quantity: 6, low_stock_threshold: 5 })).status).toBe(200);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'], timeout: 30_000 });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const origin = new URL(mesh.urls.edge).origin;
  const elsewhere: string[] = [];
  const pageErrors: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(origin)) elsewhere.push(r.url());
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  let loads = 0;
  page.on('load', () => loads++);

  const reply = await page.goto(edge('/cqrs/live'), { timeout: 20_000 });
  expect(reply?.status()).toBe(200);
  await page.locator('[data-stream="statistics"].live').waitFor({ timeout: 15_000 });
  await page.locator(`#inventory-rows tr[data-product-id="${PRODUCT}"]`).waitFor({ timeout: 15_000 });

  const created = await postJson(edge('/cqrs/commands/orders'), { user_id: 4242, product_id: PRODUCT, quantity: 2 });
  expect(created.status).toBe(200);
  const orderId: string = created.body.order_id;
  const row = page.locator(`#order-rows tr[data-order-id="${orderId}"]`);
  await page.locator(`#order-rows tr[data-order-id="${orderId}"][data-status="VALIDATED"]`).waitFor({ timeout: 15_000 });
  // The reservation: 4 of 6 left, under the threshold of 5.
  const lamp = page.locator(`#inventory-rows tr[data-product-id="${PRODUCT}"]`);
  await page.locator(`#inventory-rows tr.low-stock[data-product-id="${PRODUCT}"]`).waitFor({ timeout: 15_000 });
  expect(await lamp.locator('td').nth(2).textContent()).toBe('4');

  const order = await getJson(edge(`/cqrs/queries/orders/${orderId}`));
  const paid = await postJson(edge('/cqrs/commands/payments'), { order_id: orderId, amount: order.body.total_amount, method: 'CREDIT_CARD' });
  expect(paid.status).toBe(200);
  await page.locator(`#order-rows tr[data-order-id="${orderId}"][data-status="PAID"]`).waitFor({ timeout: 15_000 });
  expect(await row.locator('.status').textContent()).toBe('PAID');
  await page.locator('#total-revenue', { hasText: /^25\.00$/ }).waitFor({ timeout: 15_000 });
  expect(Number(await page.locator('#total-orders').textContent())).toBeGreaterThanOrEqual(1);

  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, 'live.png'), fullPage: true });
  expect(loads).toBe(1); // no reload
  expect(elsewhere).toEqual([]);
  expect(pageErrors).toEqual([]);
}, 90_000);
