// npm run demo [-- --once]: contacts flowing from a (simulated) HubSpot into a Talkdesk-style sync,
// with nothing to configure. Makes sure PostgreSQL and Redis are there, starts the simulator and
// the bridge (API + workers), onboards a demo tenant through the real path, shows the backfill,
// runs a full and an incremental sync, prints the URLs, and runs until Ctrl-C (--once: exits,
// status 0 only when every step checked out).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../src/config.js';
import { buildRuntime } from '../../src/runtime.js';
import { buildHubSpotSim } from '../hubspot-sim/server.js';
import { newQueuePrefix, obliterateQueuePrefix } from '../queues/prefix.js';
import { httpSyncCall, runSync } from '../../src/cli/talkdesk-client.js';

const once = process.argv.includes('--once');
const contactsWanted = Number(process.env.DEMO_CONTACTS ?? 20_000);
const TOKEN = 'demo-token';
const PORTAL = 62515;
const out = (line = '') => process.stdout.write(`${line}\n`);
const step = (title: string) => out(`\n▶ ${title}`);
const root = fileURLToPath(new URL('../../', import.meta.url));

/** PostgreSQL and Redis: given by the environment, from docker compose, or local Debian servers. */
function ensureServices(): { adminUrl: string; redisUrl: string } {
  if (process.env.DATABASE_URL && process.env.REDIS_URL) {
    return { adminUrl: process.env.DATABASE_URL, redisUrl: process.env.REDIS_URL };
  }
  const docker = spawnSync('docker', ['info'], { stdio: 'ignore' });
  if (docker.status === 0) {
    out('  a Docker engine answers: docker compose up -d postgres redis');
    const up = spawnSync('docker', ['compose', 'up', '-d', '--wait', 'postgres', 'redis'], { cwd: root, stdio: 'inherit' });
    if (up.status !== 0) throw new Error('docker compose could not start postgres and redis');
    return { adminUrl: 'postgres://bridge:bridge@127.0.0.1:5432/bridge', redisUrl: 'redis://127.0.0.1:6379' };
  }
  out('  no Docker engine: local PostgreSQL and Redis (harness/scripts/local-services.sh)');
  const local = spawnSync('bash', [`${root}harness/scripts/local-services.sh`], { stdio: 'inherit' });
  if (local.status !== 0) throw new Error('PostgreSQL and Redis are not available (see the message above)');
  return { adminUrl: 'postgres://bridge:bridge@127.0.0.1:5432/bridge', redisUrl: 'redis://127.0.0.1:6379' };
}

function bar(done: number, total: number, startedAt: number): string {
  const width = 30;
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  const seconds = (Date.now() - startedAt) / 1000;
  const rate = seconds > 0 ? done / seconds : 0;
  const eta = rate > 0 ? Math.max(0, (total - done) / rate) : NaN;
  return `  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} contacts  ${Math.round(rate).toLocaleString('en-US')}/s  ETA ${Number.isNaN(eta) ? '?' : `${Math.ceil(eta)} s`}`;
}

const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  out(`  ${ok ? '✓' : '✗'} ${what}`);
  if (!ok) failures.push(what);
};

step('PostgreSQL and Redis');
const services = ensureServices();
const dbName = process.env.DEMO_DATABASE ?? 'bridge_demo';
const admin = new pg.Client({ connectionString: services.adminUrl });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
await admin.query(`CREATE DATABASE ${dbName}`);
await admin.end();
const databaseUrl = new URL(services.adminUrl);
databaseUrl.pathname = `/${dbName}`;
out(`  database ${dbName} created afresh`);

step(`a simulated HubSpot portal with ${contactsWanted.toLocaleString('en-US')} contacts`);
const sim = await buildHubSpotSim({ portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts: contactsWanted }], searchLagMs: 2000 });
await sim.app.listen({ port: Number(process.env.DEMO_HUBSPOT_PORT ?? 4010), host: '127.0.0.1' });
const simUrl = `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}`;
out(`  ${simUrl} (HubSpot's default limit: 100 requests / 10 s)`);

step('the bridge: API and ingest workers in one process');
const adminToken = process.env.ADMIN_TOKEN ?? randomBytes(18).toString('base64url');
const config = loadConfig({
  ...process.env,
  DATABASE_URL: databaseUrl.toString(),
  REDIS_URL: services.redisUrl,
  BRIDGE_SECRET: process.env.BRIDGE_SECRET ?? randomBytes(32).toString('base64url'),
  ADMIN_TOKEN: adminToken,
  HUBSPOT_BASE_URL: simUrl,
  HOST: '127.0.0.1',
  PORT: process.env.PORT ?? '3000',
  SYNC_INTERVAL_SECONDS: '5',
  HUBSPOT_SEARCH_OVERLAP_SECONDS: '10',
  QUEUE_PREFIX: newQueuePrefix('demo'),
  ROLE: 'all',
  LOG_LEVEL: 'silent',
});
// The bridge exactly as `npm start` builds it (API and workers in one process).
const runtime = await buildRuntime(config);
const { database } = runtime;
await runtime.listen();
const base = `http://127.0.0.1:${(runtime.server.server.address() as { port: number }).port}`;
const syncUrl = `${base}${config.SYNC_PATH}`;
const auth = { access_token: TOKEN };
out(`  ${base}`);

async function close(): Promise<void> {
  await runtime.close();
  await obliterateQueuePrefix(config.REDIS_URL, config.QUEUE_PREFIX).catch(() => {});
  await sim.app.close();
}

try {
  step('Talkdesk activates the integration: POST /auth_validation with the HubSpot token');
  const startedAt = Date.now();
  const validation = await fetch(`${base}/auth_validation`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth }),
  });
  check(validation.status === 204, `204: the token verifies; tenant "HubSpot ${PORTAL}" created, backfill started`);

  step('backfill: the mirror fills from HubSpot');
  const total = sim.control.counts().live;
  for (;;) {
    const { rows } = await database.db.execute<{ n: number; done: boolean }>(
      sql`SELECT s.backfill_contacts AS n, t.backfill_completed_at IS NOT NULL AS done FROM tenants t JOIN ingest_state s ON s.tenant_id = t.id`,
    );
    const row = rows[0];
    process.stdout.write(`\r${bar(row?.n ?? 0, total, startedAt)}`);
    if (row?.done) break;
    if (Date.now() - startedAt > 10 * 60_000) throw new Error('the backfill did not complete within 10 minutes');
    await sleep(500);
  }
  out(`\n  backfill complete in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);

  step('Talkdesk: a full sync (no checkpoint)');
  const full = await runSync(httpSyncCall(syncUrl), { auth });
  out(`  ${full.pages} pages, ${full.contacts.length.toLocaleString('en-US')} contacts, ${full.seconds.toFixed(2)} s`);
  check(full.contacts.length === total, `every HubSpot contact delivered (${total.toLocaleString('en-US')})`);
  check(full.checkpoint !== null, 'a checkpoint for the next, incremental run');
  out(`  first full sync ${((Date.now() - startedAt) / 1000).toFixed(1)} s after activation`);

  step('a few edits in HubSpot: 3 renamed, 2 created');
  const live = sim.control.liveContacts();
  const renamed = live.slice(0, 3).map((c, i) => sim.control.editContact(c.id, { firstname: `Renamed${i + 1}` }).id);
  const created = sim.control.createContacts([
    { firstname: 'Ada', lastname: 'Lovelace', email: 'ada@example.com', phone: '+44 20 7946 0958', company: 'Analytical Engines' },
    { firstname: 'Grace', lastname: 'Hopper', email: 'grace@example.com', phone: '(415) 555-0132', company: 'Navy' },
  ]).map((c) => c.id);
  const changed = new Set([...renamed, ...created]);

  step('Talkdesk: incremental syncs from the checkpoint until the edits arrive');
  let checkpoint = full.checkpoint ?? undefined;
  const seen = new Map<string, Record<string, unknown>>();
  const incStarted = Date.now();
  while ([...changed].some((id) => !seen.has(id)) && Date.now() - incStarted < 90_000) {
    await sleep(2000);
    const inc = await runSync(httpSyncCall(syncUrl), { auth, checkpoint });
    for (const c of inc.contacts) seen.set(c.id as string, c);
    out(`  incremental run: ${inc.pages} page(s), ${inc.contacts.length} contacts, ${inc.seconds.toFixed(3)} s`);
    checkpoint = inc.checkpoint ?? undefined;
  }
  check([...changed].every((id) => seen.has(id)), `the ${changed.size} changed contacts arrived, ${((Date.now() - incStarted) / 1000).toFixed(0)} s after the edits`);
  for (const id of created) out(`    ${JSON.stringify(seen.get(id))}`);

  step('where to look');
  out(`  sync endpoint   POST ${syncUrl}   auth {"access_token":"${TOKEN}"}`);
  out(`  status page     ${base}/admin`);
  out(`  queue board     ${base}/admin/queues`);
  out(`  API docs        ${base}/docs`);
  // Without METRICS_TOKEN, PORT answers /metrics 404 and the internal metrics server serves them.
  const metricsAt = config.METRICS_TOKEN ? `${base}/metrics   (bearer METRICS_TOKEN)` : runtime.metricsUrl ? `${runtime.metricsUrl}/metrics` : 'not served (METRICS_PORT off or in use)';
  out(`  metrics         ${metricsAt}`);
  out(`  admin token     ${adminToken}   (browser: any user name, this as the password)`);
  out(`  try it          npm run sync -- --url ${syncUrl} --auth '{"access_token":"${TOKEN}"}'`);
} catch (err) {
  failures.push((err as Error).message);
  out(`\n✗ ${(err as Error).message}`);
}

if (once) {
  await close();
  out(failures.length === 0 ? '\ndemo: every step checked out' : `\ndemo: ${failures.length} step(s) failed`);
  process.exit(failures.length === 0 ? 0 : 1);
} else {
  out('\nRunning; Ctrl-C stops everything this demo started (and nothing else).');
  const stop = async () => {
    await close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
