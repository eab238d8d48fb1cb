import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { buildIngestStack, eventually, startSim, type IngestStack } from './helpers/ingest.js';
import { crmTruth, diff, TalkdeskCopy } from './helpers/talkdesk-copy.js';

const server = fileURLToPath(new URL('../src/server.ts', import.meta.url));

/** A real worker process (`ROLE=worker`, the production entry point) on the stack's queue. */
function workerProcess(t: Test, h: IngestStack): ChildProcess {
  const child = spawn(process.execPath, [...process.execArgv, server], {
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
});

t.test('two worker processes on one queue never ingest a tenant at once', async (t) => {
  const portals = [9101, 9102, 9103].map((portalId) => ({ portalId, tokens: [`two-${portalId}`], contacts: 800 }));
  const sim = await startSim(t, { portals });
  sim.control.setDelay({ ms: 20 });
  const h = await buildIngestStack(t, sim, {}, { workers: false });
  workerProcess(t, h);
  workerProcess(t, h);
  const copies = portals.map((p) => new TalkdeskCopy(h.sync, { access_token: p.tokens[0]! }));
  for (const copy of copies) await copy.sync();
  for (const p of portals) sim.control.editContact(sim.control.liveContacts({ portalId: p.portalId })[3]!.id, { jobtitle: 'Moved' }, { portalId: p.portalId });
  await eventually('every tenant backfilled and caught up', async () => {
    for (const copy of copies) await copy.sync();
    return copies.every((copy, i) => {
      const d = diff(copy.contacts, crmTruth(sim.control, portals[i]!.portalId));
      return copy.checkpoint !== undefined && d.missing.length + d.stale.length + d.deletedButPresent.length === 0;
    });
  }, 90_000);
  for (const p of portals) {
    t.equal(sim.control.stats().portals[String(p.portalId)]!.maxInFlight, 1, `portal ${p.portalId}: never two requests at once`);
  }
});
