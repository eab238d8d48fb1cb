import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { loadConfig } from '../../../src/config.js';
import { createConnector } from '../../../src/crm/create-connector.js';
import { buildHubSpotSim } from '../../hubspot-sim/server.js';
import { deriveKeys } from '../../../src/tenants/keys.js';
import { Onboarding } from '../../../src/tenants/onboarding.js';
import { startWorkers } from '../../../workers/index.js';
import { createBenchDatabase } from '../database.js';
import { progress } from '../progress.js';

export interface CrmIngestFigures {
  contacts: number;
  seconds: number;
  contactsPerSecond: number;
  requests: number;
  requestsPer10s: number;
  maxRequestsInAnyRolling10s: number;
  limitPer10s: number;
  /** requestsPer10s ÷ limitPer10s. */
  shareOfLimit: number;
  rateLimited429: number;
}

/**
 * CRM-bound ingest: onboard a tenant whose HubSpot portal (the simulator, at HubSpot's default
 * rate limit) holds `contacts` contacts and time its backfill end to end through the real
 * workers and queues, on a database of its own. The figure that matters is how close the
 * request rate stays to the limit without crossing it.
 */
export async function crmBoundIngest({ adminUrl, redisUrl, contacts }: { adminUrl: string; redisUrl: string; contacts: number }): Promise<CrmIngestFigures> {
  const database = await createBenchDatabase(adminUrl, 10);
  const sim = await buildHubSpotSim({ portals: [{ portalId: 4242, tokens: ['bench-token'], contacts }] });
  await sim.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = sim.app.server.address() as { port: number };
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    BRIDGE_SECRET: 'bench-secret-bench-secret-bench-secret',
    HUBSPOT_BASE_URL: `http://127.0.0.1:${port}`,
    QUEUE_PREFIX: `cbbench${randomBytes(3).toString('hex')}`,
    LOG_LEVEL: 'silent',
  });
  const keys = deriveKeys(config.BRIDGE_SECRET);
  const connector = createConnector(config);
  const workers = await startWorkers({ config, db: database.db, pool: database.pool, keys, connector, log: pino({ level: 'silent' }) });
  try {
    const onboarding = new Onboarding({ db: database.db, keys, connector, ingest: workers.scheduler });
    const bar = progress('CRM-bound backfill', contacts, 'contacts');
    const started = Date.now();
    const { tenant } = await onboarding.resolve({ access_token: 'bench-token' });
    let done = 0;
    for (;;) {
      const { rows } = await database.db.execute<{ done: boolean; n: number | null }>(
        sql`SELECT t.backfill_completed_at IS NOT NULL AS done, s.backfill_contacts AS n
            FROM tenants t LEFT JOIN ingest_state s ON s.tenant_id = t.id WHERE t.id = ${tenant.id}`,
      );
      const n = rows[0]?.n ?? 0;
      bar.increment(n - done);
      done = n;
      if (rows[0]?.done) break;
      await sleep(500);
    }
    bar.stop();
    const seconds = (Date.now() - started) / 1000;
    const stats = sim.control.stats().portals['4242']!;
    const requestsPer10s = (stats.requests / seconds) * 10;
    return {
      contacts,
      seconds,
      contactsPerSecond: contacts / seconds,
      requests: stats.requests,
      requestsPer10s,
      maxRequestsInAnyRolling10s: stats.maxRequestsPerTenSeconds,
      limitPer10s: config.HUBSPOT_TEN_SECOND_LIMIT,
      shareOfLimit: requestsPer10s / config.HUBSPOT_TEN_SECOND_LIMIT,
      rateLimited429: stats.rateLimited,
    };
  } finally {
    await workers.worker.close();
    await workers.queue.obliterate({ force: true });
    await workers.close();
    await sim.app.close();
    await database.drop();
  }
}
