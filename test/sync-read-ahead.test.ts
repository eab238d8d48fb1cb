import t from 'tap';
import { CursorCodec } from '../src/sync/cursor.js';
import { ReadAhead } from '../src/sync/read-ahead.js';
import { syncPage, type SyncPageAnswer } from '../src/sync/sync-page.js';
import { listCredentials } from '../src/tenants/credentials.js';
import { getTenant } from '../src/tenants/repository.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { syncRun } from './helpers/talkdesk.js';

// Reading a run's next page while the current one is sent (src/sync/read-ahead.ts): the pages
// must be the ones a request would have read, and a write landing between the read and the
// request must still reach Talkdesk.

const contacts = (from: number, to: number, version = 0) =>
  Array.from({ length: to - from }, (_, k) => ({ id: `c${String(from + k).padStart(4, '0')}`, name: `Contact ${from + k} v${version}` }));

const readAheadCounts = async (h: TestApp) => {
  const { values } = await h.runtime.metrics.syncReadAhead.get();
  const of = (result: string) => values.find((v) => v.labels.result === result)?.value ?? 0;
  return { hit: of('hit'), miss: of('miss') };
};

t.test('a full run takes every page after the first from the read ahead, and delivers the mirror exactly', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '20' });
  const auth = { token: 'read-ahead' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, contacts(0, 130));

  const run = await syncRun(h.sync, auth);
  t.equal(run.pages, 7);
  t.same(run.contacts.map((c) => c.id), contacts(0, 130).map((c) => c.id), 'every contact once, in key order');
  t.type(run.checkpoint, 'string');
  t.same(await readAheadCounts(h), { hit: 6, miss: 0 }, 'pages 2 to 7 had been read while the one before was sent');

  const settled = await syncRun(h.sync, auth, run.checkpoint);
  t.same(settled.contacts, [], 'the checkpoint covers the run');
});

t.test('with SYNC_READ_AHEAD=false every page is read on request, with the same result', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '20', SYNC_READ_AHEAD: 'false' });
  const auth = { token: 'no-read-ahead' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, contacts(0, 130));
  const run = await syncRun(h.sync, auth);
  t.same(run.contacts.map((c) => c.id), contacts(0, 130).map((c) => c.id));
  t.same(await readAheadCounts(h), { hit: 0, miss: 0 }, 'nothing read ahead, nothing counted');
});

t.test('writes committed after a page was read ahead, before it was asked for, reach Talkdesk', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '20' });
  const auth = { token: 'read-ahead-race' };
  const tenantId = await h.createTenant(auth);
  await h.push(tenantId, contacts(0, 60));
  const tenant = (await getTenant(h.database.db, tenantId))!;
  const [copy] = await listCredentials(h.database.db, [tenantId]);
  const codec = new CursorCodec(h.runtime.keys.cursorTokens);
  const readAhead = new ReadAhead(h.database.pool);
  const page = (meta: { offset?: string; synchronization_checkpoint?: string }) =>
    syncPage(h.database.db, codec, tenant, copy!, meta, { pageSize: 20, deletionResyncSeconds: 3600, readAhead });
  const ids = (answer: SyncPageAnswer) => (JSON.parse(`[${answer.contactsJson.toString('utf8')}]`) as { id: string; name: string }[]);

  const first = await page({});
  await readAhead.settle(); // page 2 is read now, before the writes below
  // c0025 is on page 2 as read ahead; c0050 on page 3, not yet read; c0070 is new.
  await h.push(tenantId, [{ id: 'c0025', name: 'Contact 25 v1' }, { id: 'c0050', name: 'Contact 50 v1' }, { id: 'c0070', name: 'Contact 70 v0' }, { id: 'c0010', deleted: true }]);

  const second = await page({ offset: first.next_offset! });
  t.equal(second.readAhead, 'hit');
  t.ok(ids(second).some((c) => c.id === 'c0025' && c.name === 'Contact 25 v0'), 'page 2 is the page as read ahead, with the old version');

  const rest: { id: string; name: string }[] = [];
  let answer = second;
  while (answer.next_offset) {
    answer = await page({ offset: answer.next_offset });
    rest.push(...ids(answer));
  }
  const checkpoint = answer.synchronization_checkpoint!;
  t.ok(checkpoint, 'the run ends with a checkpoint');
  const incremental = await syncRun(h.sync, auth, checkpoint);
  const delivered = new Map<string, string>();
  for (const c of [...ids(first), ...ids(second), ...rest, ...incremental.contacts]) delivered.set(c.id, c.name);
  t.equal(delivered.get('c0025'), 'Contact 25 v1', 'the edit of a contact on the page read ahead arrives later in the run or in the next one');
  t.equal(delivered.get('c0050'), 'Contact 50 v1');
  t.equal(delivered.get('c0070'), 'Contact 70 v0', 'so does a contact created in between');
  t.equal(delivered.size, 61);
});

t.test('a page read ahead is taken once, and only for the tenant, position and page size it was read for', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '20' });
  const tenantId = await h.createTenant({ token: 'taken-once' });
  await h.push(tenantId, contacts(0, 10));
  let now = 0;
  const readAhead = new ReadAhead(h.database.pool, { ttlMs: 1000, now: () => now });
  const after = { us: 0n, id: '' };
  let reads = 0;
  const read = async () => {
    reads++;
    return { json: Buffer.from('x'), count: 1, last: undefined, hasMore: false, newest: undefined, tombstonesPending: undefined };
  };
  readAhead.start(tenantId, after, 20, read);
  t.equal(await readAhead.take('00000000-0000-0000-0000-000000000000', after, 20), undefined, 'another tenant');
  t.equal(await readAhead.take(tenantId, { us: 1n, id: '' }, 20), undefined, 'another position');
  t.equal(await readAhead.take(tenantId, after, 10), undefined, 'another page size');
  t.ok(await readAhead.take(tenantId, after, 20), 'its own request');
  t.equal(await readAhead.take(tenantId, after, 20), undefined, 'once');
  readAhead.start(tenantId, after, 20, read);
  now = 1001;
  t.equal(await readAhead.take(tenantId, after, 20), undefined, 'not after it expired');
  t.equal(reads, 2);
});
