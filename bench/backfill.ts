// CRM-bound ingest: onboard a tenant whose HubSpot portal (the simulator, at HubSpot's default
// rate limit) holds BENCH_BACKFILL_CONTACTS contacts, and time its backfill end to end through
// the real workers. Prints the time, the requests made and the busiest rolling 10 seconds.
//   DATABASE_URL=… REDIS_URL=… npm run bench:backfill
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pino } from 'pino';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import { createDatabase } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { createConnector } from '../src/crm/create-connector.js';
import { buildHubSpotSim } from '../src/dev/hubspot-sim/server.js';
import { deriveKeys } from '../src/tenants/keys.js';
import { Onboarding } from '../src/tenants/onboarding.js';
import { startWorkers } from '../workers/index.js';

const contacts = Number(process.env.BENCH_BACKFILL_CONTACTS ?? 100_000);
const adminUrl = process.env.DATABASE_URL ?? 'postgres://bridge:bridge@127.0.0.1:5432/postgres';
const dbName = `cb_bench_${randomBytes(4).toString('hex')}`;

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const url = new URL(adminUrl);
url.pathname = `/${dbName}`;

const sim = await buildHubSpotSim({ portals: [{ portalId: 4242, tokens: ['bench-token'], contacts }] });
await sim.app.listen({ port: 0, host: '127.0.0.1' });
const address = sim.app.server.address() as { port: number };

const config = loadConfig({
  ...process.env,
  DATABASE_URL: url.toString(),
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  BRIDGE_SECRET: 'bench-secret-bench-secret-bench-secret',
  HUBSPOT_BASE_URL: `http://127.0.0.1:${address.port}`,
  QUEUE_PREFIX: `cbbench${randomBytes(3).toString('hex')}`,
  LOG_LEVEL: 'silent',
});
const database = createDatabase({ url: config.DATABASE_URL });
await runMigrations(database.db);
const keys = deriveKeys(config.BRIDGE_SECRET);
const connector = createConnector(config);
const workers = await startWorkers({ config, db: database.db, pool: database.pool, keys, connector, log: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }) });
const onboarding = new Onboarding({ db: database.db, keys, connector, ingest: workers.scheduler });

const started = Date.now();
const { tenant } = await onboarding.resolve({ access_token: 'bench-token' });
for (;;) {
  const { rows } = await database.db.execute<{ done: boolean; n: number }>(
    sql`SELECT t.backfill_completed_at IS NOT NULL AS done, s.backfill_contacts AS n
        FROM tenants t JOIN ingest_state s ON s.tenant_id = t.id WHERE t.id = ${tenant.id}`,
  );
  const row = rows[0];
  const elapsed = (Date.now() - started) / 1000;
  process.stderr.write(`\r${row?.n ?? 0} / ${contacts} contacts, ${elapsed.toFixed(0)} s`);
  if (row?.done) break;
  await sleep(1000);
}
const seconds = (Date.now() - started) / 1000;
const stats = sim.control.stats().portals['4242']!;
console.error('');
console.log(
  JSON.stringify({
    contacts,
    seconds: Number(seconds.toFixed(1)),
    contactsPerSecond: Math.round(contacts / seconds),
    requests: stats.requests,
    requestsPer10s: Number(((stats.requests / seconds) * 10).toFixed(1)),
    maxRequestsInAnyRolling10s: stats.maxRequestsPerTenSeconds,
    limitPer10s: config.HUBSPOT_TEN_SECOND_LIMIT,
    rateLimited429: stats.rateLimited,
  }),
);

// Emptied while its connection is still open; then closed.
await workers.worker.close();
await workers.queue.obliterate({ force: true });
await workers.close();
await database.close();
await sim.app.close();
await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
await admin.end();
