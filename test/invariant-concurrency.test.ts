import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeContacts } from '../src/mirror/writer.js';
import { buildTestApp } from './helpers/app.js';
import { syncRun, type SyncRun } from './helpers/talkdesk.js';

// The invariant (shared/DESIGN.md): every committed write of a tenant has a larger
// (updated_at, id) than every write committed before it. These tests hold writer transactions
// open between picking the timestamp and committing, which is exactly where the classic
// timestamp-cursor bug hides: a write that picked its time early and committed late lands
// behind a checkpoint the reader already holds, and is never synced.

t.test('a second writer waits for the first to commit, and is ordered after it', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '10' });
  const auth = { token: 'two-writers' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, [{ id: 'base', name: 'base' }]);
  const base = await syncRun(h.sync, auth);

  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slow = writeContacts(h.database.db, tenant, [{ id: 'slow', name: 'picked its time first' }], 'admin_push', () => gate);
  await sleep(100); // the slow writer holds the tenant lock with its timestamp picked
  let fastDone = false;
  const fast = writeContacts(h.database.db, tenant, [{ id: 'fast', name: 'came second' }], 'admin_push').then(() => (fastDone = true));
  await sleep(300);
  t.notOk(fastDone, 'the second writer cannot commit while the first holds the tenant');

  const during = await syncRun(h.sync, auth, base.checkpoint);
  t.same(during.contacts, [], 'a reader sees neither uncommitted write');
  t.equal(during.checkpoint, base.checkpoint, 'and its checkpoint does not pass them');

  release();
  await Promise.all([slow, fast]);
  const after = await syncRun(h.sync, auth, during.checkpoint);
  t.same(
    after.contacts.map((c) => c.id),
    ['slow', 'fast'],
    'both reach the reader, in commit order',
  );
});

t.test('concurrent writers holding transactions open never let a reader skip a change', async (t) => {
  const WRITERS = 6;
  const WRITES_PER_WRITER = 25;
  const IDS = 60;
  // Deletions reach Talkdesk through full resyncs; let every run that finds some ask for one.
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '4', DELETION_RESYNC_SECONDS: '0' });
  const auth = { token: 'concurrency' };
  const tenant = await h.createTenant(auth);

  // Deterministic pseudo-randomness, so a failure can be replayed.
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };

  // What the CRM side last wrote for each id (in commit order, which the lock makes well-defined).
  const committed = new Map<string, string | null>();
  let writersDone = false;

  const writer = async (w: number) => {
    for (let i = 0; i < WRITES_PER_WRITER; i++) {
      const batch: Array<{ id: string; name: string } | { id: string; deleted: true }> = [];
      for (let k = 0; k < 1 + rand(5); k++) {
        const id = `c${rand(IDS)}`;
        batch.push(rand(10) === 0 ? { id, deleted: true } : { id, name: `w${w}-${i}-${k}` });
      }
      const hold = rand(25);
      await writeContacts(h.database.db, tenant, batch, 'admin_push', async () => {
        // Timestamp picked, rows written, not yet committed: stay here a while.
        await sleep(hold);
        for (const item of batch) committed.set(item.id, 'deleted' in item ? null : item.name);
      });
      await sleep(rand(5));
    }
  };

  // A Talkdesk-style synchronizer: a full run replaces its copy, an incremental one upserts.
  const copy = new Map<string, string>();
  let checkpoint: string | undefined;
  let runs = 0;
  const apply = (run: SyncRun, full: boolean) => {
    if (full) copy.clear();
    for (const c of run.contacts) copy.set(c.id, c.name as string);
    checkpoint = run.checkpoint;
    runs++;
  };
  const slowCall: typeof h.sync = async (body) => {
    await sleep(rand(8)); // let writes land between the pages of one run
    return h.sync(body);
  };
  const reader = async () => {
    apply(await syncRun(slowCall, auth), true);
    while (!writersDone) apply(await syncRun(slowCall, auth, checkpoint), checkpoint === undefined);
  };

  const readerDone = reader();
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
  writersDone = true;
  await readerDone;
  // Writes have stopped: one more run, and the full one it asks for when deletions are pending.
  apply(await syncRun(h.sync, auth, checkpoint), checkpoint === undefined);
  if (checkpoint === undefined) apply(await syncRun(h.sync, auth), true);
  t.type(checkpoint, 'string', 'a full run settles the deletions and hands out a checkpoint again');

  t.ok(runs > 5, `the reader ran ${runs} sync runs while ${WRITERS} writers wrote`);
  const live = new Map([...committed].filter((e): e is [string, string] => e[1] !== null));
  const missing = [...live].filter(([id, name]) => copy.get(id) !== name);
  t.same(missing, [], 'every contact reached Talkdesk at its final version');
  t.same([...copy.keys()].filter((id) => !live.has(id)), [], 'and no deleted contact remains');
});
