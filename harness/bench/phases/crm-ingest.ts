import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../../src/config.js';
import { buildRuntime } from '../../../src/runtime.js';
import { buildHubSpotSim } from '../../hubspot-sim/server.js';
import { newQueuePrefix, obliterateQueuePrefix } from '../../queues/prefix.js';
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
    QUEUE_PREFIX: newQueuePrefix('cbbench'),
    ROLE: 'all',
    CRM: 'hubspot',
    LOG_LEVEL: 'silent',
  });
  const runtime = await buildRuntime(config, { database });
  try {
    const bar = progress('CRM-bound backfill', contacts, 'contacts');
    const started = Date.now();
    // Talkdesk's activation call onboards the tenant and starts its backfill.
    const validation = await runtime.app!.inject({ method: 'POST', url: '/auth_validation', payload: { auth: { access_token: 'bench-token' } } });
    if (validation.statusCode !== 204) throw new Error(`auth validation: ${validation.statusCode} ${validation.body}`);
    const tenant = (await database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`)).rows[0]!;
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
    await runtime.close();
    await obliterateQueuePrefix(redisUrl, config.QUEUE_PREFIX);
    await sim.app.close();
    await database.drop();
  }
}
