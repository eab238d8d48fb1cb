import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../../src/config.js';
import { buildRuntime } from '../../../src/runtime.js';
import { buildHubSpotSim } from '../../hubspot-sim/server.js';
import type { Subscription } from '../../hubspot-sim/webhooks.js';
import { HUBSPOT_CONTACT_PROPERTIES } from '../../../src/crm/hubspot/mapping.js';
import { newQueuePrefix, obliterateQueuePrefix } from '../../queues/prefix.js';
import { createBenchDatabase } from '../database.js';
import { progress } from '../progress.js';
import { summarize, type Summary } from '../stats.js';
import { freePort } from '../../free-port.js';

/**
 * What the phase needs of one CRM's simulator: the phase itself knows no CRM. A second CRM's
 * webhooks are measured by adding its adapter to WEBHOOK_BENCH_CRMS.
 */
export interface WebhookBenchCrm {
  kind: string;
  /** Starts the simulator with `contacts` contacts in one account. */
  start(contacts: number): Promise<WebhookBenchSim>;
}

export interface WebhookBenchSim {
  /** The bridge's settings that point it at this simulator (base URL, webhook secret). */
  env: Record<string, string>;
  /** The `auth` Talkdesk sends for the account. */
  auth: Record<string, unknown>;
  /** Some live contact ids, as the mirror stores them. */
  contactIds(n: number): string[];
  /** Sets the contact's job title in the CRM (what the mirror stores as `title`). */
  setTitle(id: string, title: string): void;
  /** Starts delivering the account's contact events to this URL. */
  subscribe(webhookUrl: string): void;
  /** Resolves once events are delivered (a CRM the bridge subscribes itself, after onboarding). */
  ready?(): Promise<void>;
  /** CRM API requests the account has been sent since the last reset. */
  requests(): number;
  resetRequests(): void;
  close(): Promise<void>;
}

export interface WebhookModeFigures {
  mode: 'polling' | 'webhooks';
  edits: number;
  /** Edit in the CRM → the contact's new version committed in the mirror, ms. */
  latencyMs: Summary;
  /** CRM requests from the first edit until every edit was mirrored, per edited contact. */
  requestsPerChange: number;
}

export interface WebhookLatencyFigures {
  crm: string;
  syncIntervalSeconds: number;
  polling: WebhookModeFigures;
  webhooks: WebhookModeFigures;
}

const PORTAL = 4343;
const SECRET = 'bench-webhook-client-secret';

export const hubspotWebhookBench: WebhookBenchCrm = {
  kind: 'hubspot',
  async start(contacts) {
    const sim = await buildHubSpotSim({
      portals: [{ portalId: PORTAL, tokens: ['bench-webhooks'], contacts }],
      apps: [{ appId: 1, clientId: 'bench', clientSecret: SECRET }],
      // HubSpot's search index lags its writes by a few seconds; polling reads through it.
      searchLagMs: 2_000,
    });
    await sim.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = sim.app.server.address() as net.AddressInfo;
    const subscriptions: Subscription[] = [
      { subscriptionType: 'contact.creation' },
      { subscriptionType: 'contact.deletion' },
      ...HUBSPOT_CONTACT_PROPERTIES.map((propertyName) => ({ subscriptionType: 'contact.propertyChange' as const, propertyName })),
    ];
    return {
      env: { HUBSPOT_BASE_URL: `http://127.0.0.1:${port}`, HUBSPOT_CLIENT_SECRET: SECRET, CRM: 'hubspot' },
      auth: { access_token: 'bench-webhooks' },
      contactIds: (n) => sim.control.liveContacts({ portalId: PORTAL }).slice(0, n).map((c) => c.id),
      setTitle: (id, title) => void sim.control.editContact(id, { jobtitle: title }, { portalId: PORTAL }),
      subscribe: (url) => void sim.control.webhooks.addTarget({ appId: 1, targetUrl: url, portalIds: [PORTAL], subscriptions }),
      requests: () => sim.control.stats().portals[String(PORTAL)]?.requests ?? 0,
      resetRequests: () => sim.control.resetStats(),
      close: async () => {
        sim.control.webhooks.close();
        await sim.app.close();
      },
    };
  },
};

export const WEBHOOK_BENCH_CRMS: readonly WebhookBenchCrm[] = [hubspotWebhookBench];

interface LatencyOptions {
  adminUrl: string;
  redisUrl: string;
  crm: WebhookBenchCrm;
  contacts: number;
  edits: number;
  syncIntervalSeconds: number;
}

/**
 * Edit → mirror latency with webhooks next to polling alone, and the CRM requests each costs per
 * changed contact: for each mode a bridge (ROLE=all, listening, on a database of its own) mirrors
 * a small account, then `edits` contacts are edited a fixed gap apart and each is timed until its
 * new version is committed in the mirror.
 */
export async function webhookLatency(options: LatencyOptions): Promise<WebhookLatencyFigures> {
  const polling = await measureMode({ ...options, mode: 'polling' });
  const webhooks = await measureMode({ ...options, mode: 'webhooks' });
  return { crm: options.crm.kind, syncIntervalSeconds: options.syncIntervalSeconds, polling, webhooks };
}

async function measureMode(o: LatencyOptions & { mode: 'polling' | 'webhooks' }): Promise<WebhookModeFigures> {
  const database = await createBenchDatabase(o.adminUrl, 10);
  const sim = await o.crm.start(o.contacts);
  const port = await freePort();
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: database.url,
    REDIS_URL: o.redisUrl,
    BRIDGE_SECRET: 'bench-secret-bench-secret-bench-secret',
    QUEUE_PREFIX: newQueuePrefix('cbbench'),
    ROLE: 'all',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    METRICS_PORT: 'off',
    SYNC_INTERVAL_SECONDS: String(o.syncIntervalSeconds),
    ...sim.env,
  });
  const runtime = await buildRuntime(config, { database });
  try {
    await runtime.listen();
    if (o.mode === 'webhooks') sim.subscribe(`http://127.0.0.1:${port}/webhooks/${o.crm.kind}`);
    const validation = await runtime.app!.inject({ method: 'POST', url: '/auth_validation', payload: { auth: sim.auth } });
    if (validation.statusCode !== 204) throw new Error(`auth validation: ${validation.statusCode} ${validation.body}`);
    for (;;) {
      const { rows } = await database.db.execute<{ done: boolean }>(sql`SELECT bool_and(backfill_completed_at IS NOT NULL) AS done FROM tenants`);
      if (rows[0]?.done) break;
      await sleep(100);
    }
    await sim.ready?.();
    const ids = sim.contactIds(o.edits);
    const bar = progress(`edit → mirror, ${o.crm.kind} ${o.mode}`, ids.length, 'edits');
    sim.resetRequests();
    const pending = new Map<string, { title: string; at: number }>();
    const latencies: number[] = [];
    const deadline = performance.now() + (o.syncIntervalSeconds * 3 + 30) * 1000;
    let next = 0;
    // Edits a fixed gap apart, so they land at every phase of the poll interval.
    const gapMs = Math.max(50, (o.syncIntervalSeconds * 1000) / Math.max(1, ids.length));
    let nextEditAt = performance.now();
    while ((next < ids.length || pending.size > 0) && performance.now() < deadline) {
      if (next < ids.length && performance.now() >= nextEditAt) {
        const id = ids[next++]!;
        const title = `bench ${o.mode} ${next}`;
        pending.set(id, { title, at: performance.now() });
        sim.setTitle(id, title);
        nextEditAt += gapMs;
      }
      if (pending.size > 0) {
        const { rows } = await database.db.execute<{ id: string; title: string | null }>(
          sql`SELECT id, title FROM contacts WHERE id = ANY(${sql.param([...pending.keys()])}::text[])`,
        );
        const now = performance.now();
        for (const r of rows) {
          const p = pending.get(r.id);
          if (p && r.title === p.title) {
            latencies.push(now - p.at);
            pending.delete(r.id);
            bar.increment();
          }
        }
      }
      await sleep(20);
    }
    bar.stop();
    if (pending.size > 0) throw new Error(`${o.mode}: ${pending.size} edits never reached the mirror`);
    return { mode: o.mode, edits: ids.length, latencyMs: summarize(latencies), requestsPerChange: sim.requests() / ids.length };
  } finally {
    await runtime.close();
    await obliterateQueuePrefix(o.redisUrl, config.QUEUE_PREFIX);
    await sim.close();
    await database.drop();
  }
}

