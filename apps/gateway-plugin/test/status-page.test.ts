/// <reference lib="dom" />
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { createTestDatabase, tempStorePath } from '@mosaic/test-harness';
import { startGateway, storeWithTokens } from './gateway.js';
import type { Gateway } from './gateway.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(import.meta.dirname, '..', 'test-results');

describe('status page in headless Chromium', () => {
  let gw: Gateway;
  let browser: Browser;
  let token: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error('Debian chromium is not installed: run "bash tools/provision-services.sh" (installs the chromium package).');
    const store = tempStorePath('page');
    token = (await storeWithTokens(store, 'local', 10)).valid;
    gw = await startGateway(store, 'local');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('shows the tier and a migration progressing, and saves a screenshot', async () => {
    const page = await browser.newPage();
    await page.goto(`${gw.url}/admin/storage/`);
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-field="tier"]');
    expect(await page.textContent('[data-field="tier"]')).toBe('local');

    const target = await createTestDatabase();
    const start = await fetch(`${gw.url}/admin/storage/migrations`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: 'federated', targetUrl: target }),
    });
    expect(start.status).toBe(202);
    // The page polls for a job and then follows its event stream.
    await page.waitForSelector('tr[data-table="users"]', { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'succeeded', undefined, { timeout: 60_000 });
    const rows = await page.$$eval('tr[data-table]', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.table));
    expect(rows).toContain('messages');
    expect(await page.$$eval('tr[data-table].done', (trs) => trs.length)).toBe(19);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'status-page.png'), fullPage: true });
    expect(existsSync(join(SCREENSHOTS, 'status-page.png'))).toBe(true);
  });
});
