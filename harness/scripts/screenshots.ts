// Draws docs/status-page.png, docs/queue-board.png and docs/contact-lookup.png from a real run:
// the HubSpot simulator with four portals, the app and the ingest workers on a fresh database,
// tenants in each state an operator meets (active, paused, credentials_failed, mid-backfill), two
// Talkdesk copies of one of them synced to different points and a caller-ID question to answer
// ("why wasn't +1 (212) 555-0142 identified?"), then Chromium.
//   DATABASE_URL=postgres://… REDIS_URL=redis://… npm run screenshots
// DATABASE_URL is an admin URL (a role that may CREATE DATABASE); the database made here is
// dropped at the end, and the queue keys (a prefix of their own) are obliterated.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { chromium } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { buildRuntime } from '../../src/runtime.js';
import { httpSyncCall, runSync } from '../../src/cli/talkdesk-client.js';
import { buildHubSpotSim } from '../hubspot-sim/server.js';
import { newQueuePrefix, obliterateQueuePrefix } from '../queues/prefix.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const docsDir = fileURLToPath(new URL('../../docs/', import.meta.url));
const adminUrl = process.env.DATABASE_URL ?? 'postgres://bridge:bridge@127.0.0.1:5432/postgres';
const adminToken = randomBytes(16).toString('hex');
const dbName = `cb_screens_${randomBytes(4).toString('hex')}`;

if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);

const portals = {
  // Two Talkdesk integrations sync Acme: production and a sandbox, each a credential of its own.
  acme: { portalId: 21_004_117, tokens: ['pat-acme', 'pat-acme-sandbox'], contacts: 2_400 },
  globex: { portalId: 21_004_255, tokens: ['pat-globex'], contacts: 900 },
  initech: { portalId: 21_007_301, tokens: ['pat-initech'], contacts: 350 },
  // Big enough to still be backfilling when the page is drawn (about 900 contacts a second).
  umbrella: { portalId: 21_009_040, tokens: ['pat-umbrella'], contacts: 60_000 },
};

const cleanups: Array<() => Promise<unknown>> = [];
async function cleanUp() {
  for (const step of cleanups.reverse()) await step().catch((err: Error) => console.error('cleanup:', err.message));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(250);
  }
}

try {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  cleanups.push(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;

  const sim = await buildHubSpotSim({ portals: Object.values(portals) });
  await sim.app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => sim.app.close());

  const config = loadConfig({
    DATABASE_URL: url.toString(),
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    BRIDGE_SECRET: randomBytes(24).toString('hex'),
    ADMIN_TOKEN: adminToken,
    HUBSPOT_BASE_URL: `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}`,
    QUEUE_PREFIX: newQueuePrefix('cbshots'),
    HOST: '127.0.0.1',
    PORT: '0',
    SYNC_INTERVAL_SECONDS: '2',
    DELETE_RECONCILE_SECONDS: '2',
    HUBSPOT_SEARCH_OVERLAP_SECONDS: '0',
    LOG_LEVEL: 'silent',
  });
  cleanups.push(() => obliterateQueuePrefix(config.REDIS_URL, config.QUEUE_PREFIX));
  const runtime = await buildRuntime(config, { reconcileSchedulesMs: 1_000 });
  cleanups.push(() => runtime.close());
  const { database } = runtime;
  const base = await runtime.listen();

  const call = async (method: 'POST', path: string, body?: object) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string };
  };
  const onboard = (name: string, token: string) => call('POST', '/admin/tenants', { name, auth: { access_token: token }, crm: 'hubspot' });
  const status = async (id: string) =>
    (await database.db.execute<{ status: string }>(sql`SELECT status FROM tenants WHERE id = ${id}`)).rows[0]?.status;
  const tombstones = async (id: string) =>
    (await database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM contacts WHERE tenant_id = ${id} AND deleted_at IS NOT NULL`)).rows[0]!.n;

  const acme = await onboard('Acme Corp', 'pat-acme');
  const globex = await onboard('Globex', 'pat-globex');
  const initech = await onboard('Initech', 'pat-initech');
  for (const { id } of [acme, globex, initech]) await until('the backfills', async () => (await status(id)) === 'active');

  // Deletions in the CRM reach the mirror as tombstones at the next reconcile.
  const gone = sim.control.liveContacts({ portalId: portals.acme.portalId }).slice(0, 17).map((c) => c.id);
  sim.control.archiveContacts(gone, { portalId: portals.acme.portalId });
  await until('the tombstones', async () => (await tombstones(acme.id)) === gone.length);

  // The caller-ID question: one contact's number was typed without its area code in HubSpot,
  // another's was just corrected. Production synced and confirmed everything before the edits;
  // the sandbox took one page of a full run and stopped.
  const sync = httpSyncCall(`${base}${config.SYNC_PATH}`);
  const production = await runSync(sync, { auth: { access_token: 'pat-acme' }, keepContacts: false });
  await runSync(sync, { auth: { access_token: 'pat-acme' }, checkpoint: production.checkpoint ?? undefined, keepContacts: false });
  await sync({ auth: { access_token: 'pat-acme-sandbox' }, meta: {} });
  const [typo, corrected] = sim.control.liveContacts({ portalId: portals.acme.portalId }).slice(40, 42);
  sim.control.editContact(typo!.id, { phone: '555-0142', firstname: 'Dana', lastname: 'Whitfield' }, { portalId: portals.acme.portalId });
  sim.control.editContact(corrected!.id, { phone: '+1 212-555-0142', firstname: 'Marco', lastname: 'Alvarez' }, { portalId: portals.acme.portalId });
  const mirroredPhone = async (id: string, phone: string) =>
    (await database.db.execute(sql`SELECT 1 FROM contacts WHERE tenant_id = ${acme.id} AND id = ${id} AND ${phone} = ANY(phones)`)).rows.length === 1;
  await until('the edits', async () => (await mirroredPhone(String(typo!.id), '555-0142')) && (await mirroredPhone(String(corrected!.id), '+12125550142')));

  await call('POST', `/admin/tenants/${globex.id}/pause`);
  // The customer revoked the private app: the next pass is refused and the tenant stops.
  sim.control.revokeToken('pat-initech');
  await until('the refused token', async () => (await status(initech.id)) === 'credentials_failed');

  const umbrella = await onboard('Umbrella (large portal)', 'pat-umbrella');
  await until('some backfill progress', async () => {
    const { rows } = await database.db.execute<{ pages: number }>(
      sql`SELECT backfill_pages AS pages FROM ingest_state WHERE tenant_id = ${umbrella.id}`,
    );
    return (rows[0]?.pages ?? 0) >= 40;
  });

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  cleanups.push(() => browser.close());
  const context = await browser.newContext({
    httpCredentials: { username: 'ops', password: adminToken },
    viewport: { width: 1600, height: 560 },
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  mkdirSync(docsDir, { recursive: true });

  await page.goto(`${base}/admin`);
  await page.locator(`tr[data-tenant-id="${umbrella.id}"]`).waitFor();
  await page.screenshot({ path: `${docsDir}status-page.png`, fullPage: true });

  await page.goto(`${base}/admin/queues`);
  await page.getByText('contact-bridge ingest').first().waitFor({ timeout: 15_000 });
  await page.waitForLoadState('networkidle');
  await page.screenshot({ path: `${docsDir}queue-board.png`, fullPage: true });

  await page.setViewportSize({ width: 1200, height: 600 });
  await page.goto(`${base}/admin/tenants/${acme.id}/search?${new URLSearchParams({ term: '+1 (212) 555-0142' }).toString()}`);
  await page.locator('article.contact').nth(1).waitFor();
  await page.screenshot({ path: `${docsDir}contact-lookup.png`, fullPage: true });

  console.log(`wrote ${docsDir}status-page.png, ${docsDir}queue-board.png and ${docsDir}contact-lookup.png`);
} finally {
  await cleanUp();
}
