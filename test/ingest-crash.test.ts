import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import type { SimControl } from '../harness/hubspot-sim/control.js';
import { INGEST_LOCK } from '../workers/ingest.js';
import { buildIngestStack, eventually, startSim, type IngestStack } from './helpers/ingest.js';
import { crmTruth, diff, TalkdeskCopy } from '../harness/talkdesk/copy.js';
import { FROM_SOURCE } from '../harness/from-source.js';

const server = fileURLToPath(new URL('../src/server.ts', import.meta.url));

/** A real worker process (`ROLE=worker`, the production entry point) on the stack's queue. */
function workerProcess(t: Test, h: IngestStack, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [...FROM_SOURCE, server], {
    env: {
      ...process.env,
      ...h.env,
      DATABASE_URL: h.database.url,
      BRIDGE_SECRET: h.config.BRIDGE_SECRET,
      ROLE: 'worker',
      PORT: '0', // its /metrics and probes listen on an ephemeral port
      MIGRATE_ON_START: 'false',
      INGEST_LOCK_SECONDS: '2',
      LOG_LEVEL: 'silent',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return child;
}

async function backfillPages(h: IngestStack): Promise<number> {
  const { rows } = await h.database.db.execute<{ pages: number | null }>(sql`SELECT max(backfill_pages) AS pages FROM ingest_state`);
  return rows[0]?.pages ?? 0;
}

t.test('a worker killed with kill -9 mid-backfill, twice in a row, still ends with the mirror equal to the CRM', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: 9001, tokens: ['crash'], contacts: 3000 }] });
  sim.control.setDelay({ ms: 60, endpoint: 'contacts.list' }); // a backfill of a few seconds, to kill it in
  const h = await buildIngestStack(t, sim, { SYNC_PAGE_SIZE: '1000' }, { workers: false });
  const auth = { access_token: 'crash' };
  t.equal((await h.sync({ auth, meta: {} })).statusCode, 200, 'onboarded; no worker runs yet');

  for (const atPage of [4, 12]) {
    const worker = workerProcess(t, h);
    await eventually(`backfill reaches page ${atPage}`, async () => (await backfillPages(h)) >= atPage);
    worker.kill('SIGKILL');
    await new Promise((resolve) => worker.once('exit', resolve));
    const pages = await backfillPages(h);
    t.ok(pages < 30, `killed at page ${pages} of 30`);
  }
  workerProcess(t, h);
  const talkdesk = new TalkdeskCopy(h.sync, auth);
  await eventually('the backfill completes after the restarts', async () => {
    await talkdesk.sync();
    return talkdesk.checkpoint !== undefined;
  }, 90_000);
  t.same(diff(talkdesk.contacts, crmTruth(sim.control, 9001)), { missing: [], stale: [], deletedButPresent: [] });
  const { rows } = await h.database.db.execute<{ n: string; pages: number; counted: number }>(
    sql`SELECT (SELECT count(*) FROM contacts) AS n, backfill_pages AS pages, backfill_contacts AS counted FROM ingest_state`,
  );
  t.same(rows[0], { n: '3000', pages: 30, counted: 3000 }, 'every page committed once: nothing lost, nothing counted twice');
  // Per kill, the page being written and the one fetched ahead of it are read again; one more list
  // request is the first scan for archived contacts; two spare. Restarting from the beginning
  // would have read at least 16 pages more.
  t.ok(listRequests(sim.control, 9001) <= 30 + 2 * 2 + 1 + 2, `resumed, not restarted: ${listRequests(sim.control, 9001)} list requests`);
});

const listRequests = (control: SimControl, portalId: number) =>
  Object.values(control.stats().portals[String(portalId)]?.byEndpoint['contacts.list'] ?? {}).reduce((a, b) => a + b, 0);

interface LockSample {
  /** Tenant lock (objid) → the processes (application_name) holding it at that instant. */
  holders: Map<number, string[]>;
}

/**
 * Samples, until stopped, which processes hold each tenant's ingest advisory lock
 * (pg_try_advisory_lock(INGEST_LOCK, hashtext(tenantId)), on this test's database only).
 */
function sampleIngestLocks(h: IngestStack) {
  const samples: LockSample[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const { rows } = await h.database.db.execute<{ objid: number; app: string }>(sql`
        SELECT l.objid::int AS objid, a.application_name AS app
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.classid = ${INGEST_LOCK} AND l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
      const holders = new Map<number, string[]>();
      for (const r of rows) holders.set(r.objid, [...(holders.get(r.objid) ?? []), r.app]);
      samples.push({ holders });
      await sleep(25);
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await done;
    },
  };
}

t.test('two worker processes on one queue never ingest a tenant at once, even given two jobs for it', async (t) => {
  const portals = [9101, 9102, 9103].map((portalId) => ({ portalId, tokens: [`two-${portalId}`], contacts: 1000 }));
  const sim = await startSim(t, { portals });
  sim.control.setDelay({ ms: 30 });
  const h = await buildIngestStack(t, sim, {}, { workers: false });
  // Two tenants at a time per process: three tenants' jobs are then spread over both.
  workerProcess(t, h, { WORKER_CONCURRENCY: '2' });
  workerProcess(t, h, { WORKER_CONCURRENCY: '2' });
  const locks = sampleIngestLocks(h);
  t.teardown(() => locks.stop()); // before the database goes, should the test end early
  const copies = portals.map((p) => new TalkdeskCopy(h.sync, { access_token: p.tokens[0]! }));
  for (const copy of copies) await copy.sync();
  // BullMQ's deduplication is the first guard; jobs added around it (as a second scheduler or an
  // operator could) leave the advisory lock as the only one: each tenant gets two more.
  const { rows: tenants } = await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`);
  for (const { id } of tenants) for (let i = 0; i < 2; i++) await h.directQueue.add('incremental', { kind: 'incremental', tenantId: id });
  for (const p of portals) sim.control.editContact(sim.control.liveContacts({ portalId: p.portalId })[3]!.id, { jobtitle: 'Moved' }, { portalId: p.portalId });
  await eventually('every tenant backfilled and caught up', async () => {
    for (const copy of copies) await copy.sync();
    return copies.every((copy, i) => {
      const d = diff(copy.contacts, crmTruth(sim.control, portals[i]!.portalId));
      return copy.checkpoint !== undefined && d.missing.length + d.stale.length + d.deletedButPresent.length === 0;
    });
  }, 90_000);
  await locks.stop();

  for (const p of portals) {
    t.equal(sim.control.stats().portals[String(p.portalId)]!.maxInFlight, 1, `portal ${p.portalId}: never two requests at once`);
  }
  const { rows: hashes } = await h.database.db.execute<{ objid: number }>(sql`SELECT hashtext(id::text) AS objid FROM tenants`);
  const most = Math.max(...locks.samples.flatMap((s) => [...s.holders.values()].map((holders) => holders.length)));
  t.equal(most, 1, `${locks.samples.length} samples of pg_locks: a tenant's lock held by one backend at a time`);
  for (const { objid } of hashes) {
    t.ok(locks.samples.some((s) => s.holders.has(objid)), `tenant ${objid}: ingested under its lock`);
  }
  const processes = new Set(locks.samples.flatMap((s) => [...s.holders.values()].flat()));
  t.equal(processes.size, 2, `both worker processes ingested (${[...processes].join(', ')})`);
});
