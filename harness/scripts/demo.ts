// npm run demo [-- --once] [-- --crm pipedrive]: contacts flowing from a (simulated) HubSpot, or
// Pipedrive, into a Talkdesk-style sync, with nothing to configure. Makes sure PostgreSQL and Redis are there, starts the simulator and
// the bridge (API + workers), onboards a demo tenant through the real path, shows the backfill,
// runs a full and an incremental sync, prints the URLs, and runs until Ctrl-C (--once: exits,
// status 0 only when every step checked out). With --crm pipedrive, the bridge subscribes to the
// simulated company's webhooks, and an edit arrives through one rather than a poll.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../src/config.js';
import { buildRuntime } from '../../src/runtime.js';
import { buildHubSpotSim } from '../hubspot-sim/server.js';
import { buildPipedriveSim } from '../pipedrive-sim/server.js';
import { newQueuePrefix, obliterateQueuePrefix } from '../queues/prefix.js';
import { httpSyncCall, runSync } from '../../src/cli/talkdesk-client.js';
import { freePort } from '../free-port.js';

const { values: args } = parseArgs({ options: { once: { type: 'boolean' }, crm: { type: 'string' } } });
const once = args.once === true;
const crm = args.crm ?? 'hubspot';
if (crm !== 'hubspot' && crm !== 'pipedrive') {
  process.stderr.write(`--crm: hubspot or pipedrive, not ${crm}\n`);
  process.exit(2);
}
const contactsWanted = Number(process.env.DEMO_CONTACTS ?? 20_000);
const TOKEN = 'demo-token';
const PORTAL = 62515;
const PD_COMPANY = 7001;
const PD_TOKEN = 'pd-demo-token';
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

/** What the demo does in the CRM, whichever it is. */
interface DemoCrm {
  name: string;
  auth: Record<string, string>;
  url: string;
  env: Record<string, string>;
  total(): number;
  /** A few renames and creations; the ids of the contacts they change. */
  edit(): { renamed: string[]; created: string[] };
  close(): Promise<unknown>;
}

async function hubspotCrm(): Promise<DemoCrm> {
  step(`a simulated HubSpot portal with ${contactsWanted.toLocaleString('en-US')} contacts`);
  const sim = await buildHubSpotSim({ portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts: contactsWanted }], searchLagMs: 2000 });
  await sim.app.listen({ port: Number(process.env.DEMO_HUBSPOT_PORT ?? 4010), host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}`;
  out(`  ${url} (HubSpot's default limit: 100 requests / 10 s)`);
  return {
    name: 'HubSpot',
    auth: { access_token: TOKEN },
    url,
    env: { HUBSPOT_BASE_URL: url, SYNC_INTERVAL_SECONDS: '5', HUBSPOT_SEARCH_OVERLAP_SECONDS: '10' },
    total: () => sim.control.counts().live,
    edit() {
      const live = sim.control.liveContacts();
      const renamed = live.slice(0, 3).map((c, i) => sim.control.editContact(c.id, { firstname: `Renamed${i + 1}` }).id);
      const created = sim.control
        .createContacts([
          { firstname: 'Ada', lastname: 'Lovelace', email: 'ada@example.com', phone: '+44 20 7946 0958', company: 'Analytical Engines' },
          { firstname: 'Grace', lastname: 'Hopper', email: 'grace@example.com', phone: '(415) 555-0132', company: 'Navy' },
        ])
        .map((c) => c.id);
      return { renamed, created };
    },
    close: () => sim.app.close(),
  };
}

const pdSim = crm === 'pipedrive' ? await buildPipedriveSim({ companies: [{ companyId: PD_COMPANY, name: 'Demo Company', domain: 'demo-company', tokens: [PD_TOKEN], persons: contactsWanted, windowLimit: 40 }] }) : undefined;

async function pipedriveCrm(): Promise<DemoCrm> {
  step(`a simulated Pipedrive company with ${contactsWanted.toLocaleString('en-US')} persons`);
  const sim = pdSim!;
  await sim.app.listen({ port: Number(process.env.DEMO_PIPEDRIVE_PORT ?? 4020), host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}`;
  out(`  ${url} (the Advanced plan's limit: 40 requests / 2 s per token)`);
  return {
    name: 'Pipedrive',
    auth: { api_token: PD_TOKEN },
    url,
    // Polling once a minute: within the demo, what arrives in seconds arrives by webhook.
    env: { PIPEDRIVE_BASE_URL: url, SYNC_INTERVAL_SECONDS: '60' },
    total: () => sim.control.persons().length,
    edit() {
      const [first] = sim.control.persons();
      const renamed = [String(sim.control.editPerson(first!.id, { name: 'Renamed By Webhook' }).id)];
      const created = sim.control
        .createPersons([
          { name: 'Ada Lovelace', emails: [{ value: 'ada@example.com', primary: true, label: 'work' }], phones: [{ value: '+44 20 7946 0958', primary: true, label: 'work' }] },
        ])
        .map((p) => String(p.id));
      return { renamed, created };
    },
    close: () => sim.app.close(),
  };
}


const source = crm === 'pipedrive' ? await pipedriveCrm() : await hubspotCrm();

step('the bridge: API and ingest workers in one process');
const port = process.env.PORT && process.env.PORT !== '0' ? Number(process.env.PORT) : crm === 'pipedrive' ? await freePort() : Number(process.env.PORT ?? 3000);
/** Pipedrive delivers webhooks to PUBLIC_URL: here, the bridge itself. */
function publicUrl(): { PUBLIC_URL?: string } {
  return crm === 'pipedrive' ? { PUBLIC_URL: `http://127.0.0.1:${port}` } : {};
}
const adminToken = process.env.ADMIN_TOKEN ?? randomBytes(18).toString('base64url');
const config = loadConfig({
  ...process.env,
  DATABASE_URL: databaseUrl.toString(),
  REDIS_URL: services.redisUrl,
  BRIDGE_SECRET: process.env.BRIDGE_SECRET ?? randomBytes(32).toString('base64url'),
  ADMIN_TOKEN: adminToken,
  ...source.env,
  ...publicUrl(),
  HOST: '127.0.0.1',
  PORT: String(port),
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
const auth = source.auth;
out(`  ${base}`);

async function close(): Promise<void> {
  await runtime.close();
  await obliterateQueuePrefix(config.REDIS_URL, config.QUEUE_PREFIX).catch(() => {});
  await source.close();
}

try {
  step(`Talkdesk activates the integration: POST /auth_validation with the ${source.name} token`);
  const startedAt = Date.now();
  const validation = await fetch(`${base}/auth_validation`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth }),
  });
  check(validation.status === 204, `204: the token verifies; tenant "${crm === 'pipedrive' ? 'Demo Company' : `HubSpot ${PORTAL}`}" created, backfill started`);

  step(`backfill: the mirror fills from ${source.name}`);
  const total = source.total();
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
  check(full.contacts.length === total, `every ${source.name} contact delivered (${total.toLocaleString('en-US')})`);
  check(full.checkpoint !== null, 'a checkpoint for the next, incremental run');
  out(`  first full sync ${((Date.now() - startedAt) / 1000).toFixed(1)} s after activation`);

  if (pdSim) {
    step('the workers subscribe to the company’s webhooks (POST /v1/webhooks, version 2.0, person events)');
    const subscribedBy = Date.now() + 30_000;
    while (pdSim.control.webhooks.all().length === 0 && Date.now() < subscribedBy) await sleep(200);
    const [hook] = pdSim.control.webhooks.all();
    check(hook !== undefined, `subscribed: ${hook?.subscription_url ?? 'none'} (basic auth, a random secret of this tenant)`);
  }

  const { renamed, created } = source.edit();
  step(`a few edits in ${source.name}: ${renamed.length} renamed, ${created.length} created`);
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
  if (pdSim) {
    const { rows } = await database.db.execute<{ source: string }>(sql`SELECT source FROM contact_history WHERE contact_id = ${renamed[0]!} ORDER BY at DESC LIMIT 1`);
    check(rows[0]?.source === 'webhook', `the edit arrived through a webhook, not a poll (its version's source: ${rows[0]?.source ?? 'none'})`);
  }

  step('where to look');
  out(`  sync endpoint   POST ${syncUrl}   auth ${JSON.stringify(auth)}`);
  out(`  status page     ${base}/admin`);
  out(`  queue board     ${base}/admin/queues`);
  out(`  API docs        ${base}/docs`);
  // Without METRICS_TOKEN, PORT answers /metrics 404 and the internal metrics server serves them.
  const metricsAt = config.METRICS_TOKEN ? `${base}/metrics   (bearer METRICS_TOKEN)` : runtime.metricsUrl ? `${runtime.metricsUrl}/metrics` : 'not served (METRICS_PORT off or in use)';
  out(`  metrics         ${metricsAt}`);
  out(`  admin token     ${adminToken}   (browser: any user name, this as the password)`);
  out(`  try it          npm run sync -- --url ${syncUrl} --auth '${JSON.stringify(auth)}'`);
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
