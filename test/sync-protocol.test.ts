import t from 'tap';
import { sql } from 'drizzle-orm';
import { buildTestApp } from './helpers/app.js';
import { syncRun } from './helpers/talkdesk.js';

const contact = (id: string, name = `Contact ${id}`, extra: Record<string, unknown> = {}) => ({ id, name, ...extra });
const ids = (list: Array<{ id: string }>) => list.map((c) => c.id);

t.test('the four situations of the protocol', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '3' });
  const auth = { username: 'jane@example.com', password: '605b32dd' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, [1, 2, 3, 4, 5].map((n) => contact(String(n))));

  // Initial sync, first page: every contact from the start.
  const first = await h.sync({ auth, meta: {} });
  t.equal(first.statusCode, 200);
  t.same(ids(first.body.contacts), ['1', '2', '3']);
  t.type(first.body.next_offset, 'string', 'more remain: next_offset');
  t.type(first.body.synchronization_checkpoint, 'string', 'a checkpoint on every page');

  // Initial sync, a later page: the rest, and no next_offset at the end.
  const second = await h.sync({ auth, meta: { offset: first.body.next_offset, context: first.body.context ?? null } });
  t.equal(second.statusCode, 200);
  t.same(ids(second.body.contacts), ['4', '5']);
  t.equal(second.body.next_offset, undefined, 'the last page has no next_offset');
  const checkpoint = second.body.synchronization_checkpoint;
  t.type(checkpoint, 'string');

  // Incremental sync, first page: nothing changed since the checkpoint.
  const quiet = await h.sync({ auth, meta: { synchronization_checkpoint: checkpoint } });
  t.equal(quiet.statusCode, 200);
  t.same(quiet.body.contacts, []);
  t.equal(quiet.body.synchronization_checkpoint, checkpoint, 'an empty page returns the key it started from');

  // Incremental sync over several pages: only what changed after the checkpoint, in change order.
  await h.push(tenant, [contact('2', 'Two, edited'), contact('6'), contact('7'), contact('8'), contact('1', 'One, edited')]);
  const inc1 = await h.sync({ auth, meta: { synchronization_checkpoint: checkpoint } });
  t.same(ids(inc1.body.contacts), ['1', '2', '6'], 'one batch shares a timestamp: ordered by id within it');
  const inc2 = await h.sync({
    auth,
    meta: { synchronization_checkpoint: checkpoint, offset: inc1.body.next_offset, context: null },
  });
  t.same(ids(inc2.body.contacts), ['7', '8']);
  t.equal(inc2.body.next_offset, undefined);
  t.not(inc2.body.synchronization_checkpoint, checkpoint, 'the checkpoint moved forward');

  const after = await h.sync({ auth, meta: { synchronization_checkpoint: inc2.body.synchronization_checkpoint } });
  t.same(after.body.contacts, [], 'nothing is delivered twice');
});

t.test('a contact comes back in Talkdesk shape with empty optional fields left out', async (t) => {
  const h = await buildTestApp(t);
  const auth = { token: 'shape' };
  const tenant = await h.createTenant(auth);
  const jane = {
    id: '1',
    name: 'Jane Doe',
    title: 'CTO',
    emails: ['jane@example.com', 'jane.doe@example.com'],
    phones: ['+15555555555'],
    photo_url: 'http://example.com/users/1/photo',
    company: 'Example Corp.',
    address: '37, Famous St., New York, US',
    websites: ['www.example.com'],
    twitter: 'jane_doe',
    url: 'http://example.com/users/1/',
  };
  await h.push(tenant, [jane, { id: '2', name: ' Joe ', title: 'Staff', emails: ['joe@example.com', ' '], company: '', phones: [] }]);
  const res = await h.sync({ auth, meta: { synchronization_checkpoint: null, offset: null, context: null } });
  t.equal(res.statusCode, 200);
  t.same(res.body.contacts, [jane, { id: '2', name: 'Joe', title: 'Staff', emails: ['joe@example.com'] }]);
  t.strictSame(Object.keys(res.body.contacts[1]).sort(), ['emails', 'id', 'name', 'title'], 'no empty or internal fields');
});

t.test('a run over many pages returns every live contact exactly once, in key order', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '7' });
  const auth = { token: 'many' };
  const tenant = await h.createTenant(auth);
  const expected = new Map<string, string>();
  // Several batches, overlapping ids, some tombstones: the run must see the final state once.
  for (let batch = 0; batch < 6; batch++) {
    const items: unknown[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `c${(batch * 23 + i * 7) % 150}`;
      const name = `n${batch}-${i}`;
      items.push(contact(id, name));
      expected.set(id, name);
    }
    await h.push(tenant, items);
  }
  const deleted = ['c1', 'c8', 'c15'].filter((id) => expected.has(id));
  await h.push(tenant, deleted.map((id) => ({ id, deleted: true })));
  for (const id of deleted) expected.delete(id);

  const run = await syncRun(h.sync, auth);
  t.equal(run.contacts.length, expected.size, 'every live contact');
  t.equal(new Set(ids(run.contacts)).size, run.contacts.length, 'none twice');
  t.same(new Map(run.contacts.map((c) => [c.id, c.name])), expected, 'each at its final version');
  t.equal(run.pages, Math.ceil(expected.size / 7), 'the run never ends on an empty page');

  // Key order is the order of the mirror's own (updated_at, id).
  const { rows } = await h.database.db.execute<{ id: string }>(
    sql`SELECT id FROM contacts WHERE tenant_id = ${tenant} AND deleted_at IS NULL ORDER BY updated_at, id`,
  );
  t.same(ids(run.contacts), ids(rows));
});

t.test('5,000 contacts written in the same millisecond page correctly', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '333' });
  const auth = { token: 'same-ms' };
  const tenant = await h.createTenant(auth);
  // One batch is one timestamp: 5,000 rows with an identical updated_at, told apart only by id.
  await h.push(tenant, Array.from({ length: 5000 }, (_, i) => contact(`id-${i}`)));
  const { rows } = await h.database.db.execute<{ n: string }>(
    sql`SELECT count(DISTINCT updated_at) AS n FROM contacts WHERE tenant_id = ${tenant}`,
  );
  t.equal(rows[0]!.n, '1', 'all 5,000 share one updated_at');
  const run = await syncRun(h.sync, auth);
  t.equal(run.contacts.length, 5000);
  t.equal(new Set(ids(run.contacts)).size, 5000);

  // And distinct microseconds within one millisecond (two batches back to back) keep their order.
  await h.push(tenant, [contact('id-1', 'edited once')]);
  await h.push(tenant, [contact('id-2', 'edited twice')]);
  const inc = await syncRun(h.sync, auth, run.checkpoint);
  t.same(ids(inc.contacts), ['id-1', 'id-2']);
});

t.test('a checkpoint taken mid-way and used later returns exactly the contacts changed after it', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '4' });
  const auth = { token: 'midway' };
  const tenant = await h.createTenant(auth);
  for (let i = 0; i < 10; i++) await h.push(tenant, [contact(`a${i}`)]);
  const page1 = await h.sync({ auth, meta: {} });
  const midCheckpoint = page1.body.synchronization_checkpoint; // after a0..a3
  t.same(ids(page1.body.contacts), ['a0', 'a1', 'a2', 'a3']);

  await h.push(tenant, [contact('a1', 'a1 edited'), contact('b0')]);
  await h.push(tenant, [contact('a0', 'a0 edited')]);
  const later = await syncRun(h.sync, auth, midCheckpoint);
  t.same(ids(later.contacts), ['a4', 'a5', 'a6', 'a7', 'a8', 'a9', 'a1', 'b0', 'a0']);
});

t.test('a checkpoint given as a plain timestamp resumes after that instant', async (t) => {
  const h = await buildTestApp(t);
  const auth = { token: 'plain' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, [contact('old')]);
  const { rows } = await h.database.db.execute<{ ts: string }>(
    sql`SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS ts FROM contacts WHERE id = 'old'`,
  );
  const oldTs = rows[0]!.ts;
  await h.push(tenant, [contact('new')]);

  const cases: Array<[string, string[]]> = [
    ['2012-11-20 23:01:00 UTC', ['old', 'new']],
    ['2012-11-20T23:01:00Z', ['old', 'new']],
    ['2999-01-01 00:00:00 UTC', []],
    // The protocol's key for a plain timestamp is (instant, ''): a row at exactly that instant is after it.
    [`${oldTs}Z`, ['old', 'new']],
    [`${oldTs}`, ['old', 'new']],
    [`${oldTs.slice(0, 10)} ${oldTs.slice(11)} UTC`, ['old', 'new']],
  ];
  for (const [checkpoint, expected] of cases) {
    const res = await h.sync({ auth, meta: { synchronization_checkpoint: checkpoint } });
    t.equal(res.statusCode, 200, checkpoint);
    t.same(ids(res.body.contacts), expected, checkpoint);
    t.match(res.body.synchronization_checkpoint, /^v1\./, 'answered with a token of our own');
  }
  // One microsecond later than "old" leaves only "new"; an offset shifts the instant.
  const oneUsLater = `${oldTs.slice(0, -6)}${String(Number(oldTs.slice(-6)) + 1).padStart(6, '0')}+00:00`;
  const res = await h.sync({ auth, meta: { synchronization_checkpoint: oneUsLater } });
  t.same(ids(res.body.contacts), ['new']);
  const shifted = await h.sync({ auth, meta: { synchronization_checkpoint: '2999-01-01T01:00:00+02:00' } });
  t.same(shifted.body.contacts, []);
});

t.test('until the first backfill is complete, a sync carries no checkpoint', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '2' });
  const auth = { token: 'backfilling' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, [contact('1'), contact('2'), contact('3')]);
  await h.database.db.execute(
    sql`UPDATE tenants SET backfill_completed_at = NULL, status = 'backfilling' WHERE id = ${tenant}`,
  );
  const run = await syncRun(h.sync, auth);
  t.equal(run.contacts.length, 3, 'what is mirrored so far');
  t.same(run.pageCheckpoints, [undefined, undefined], 'no checkpoint on any page');

  await h.database.db.execute(sql`UPDATE tenants SET backfill_completed_at = now(), status = 'active' WHERE id = ${tenant}`);
  const complete = await syncRun(h.sync, auth);
  t.type(complete.checkpoint, 'string');
});

t.test('unchanged rewrites do not move updated_at and are not sent again', async (t) => {
  const h = await buildTestApp(t);
  const auth = { token: 'unchanged' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, [contact('1', 'One', { emails: ['a@example.com'] }), contact('2')]);
  const full = await syncRun(h.sync, auth);
  const counts = await h.push(tenant, [contact('1', 'One', { emails: ['a@example.com'], company: '' }), contact('2')]);
  t.same(counts, { inserted: 0, updated: 0, unchanged: 2, deleted: 0 });
  const inc = await syncRun(h.sync, auth, full.checkpoint);
  t.same(inc.contacts, []);
  t.equal(inc.checkpoint, full.checkpoint);
});
