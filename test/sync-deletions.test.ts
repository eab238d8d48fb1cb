import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { syncRun } from './helpers/talkdesk.js';

// Talkdesk has no delete verb: a run without a checkpoint replaces its copy. These tests pin
// how deletions reach it (src/sync/sync-page.ts) and that the rule cannot loop.

async function seeded(t: Test, env: Record<string, string> = {}) {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '2', ...env });
  const auth = { token: 'deletions' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, name: id.toUpperCase() })));
  return { h, auth, tenant };
}

const windowPassed = (h: TestApp, tenant: string) =>
  h.database.db.execute(sql`UPDATE credentials SET last_deletion_resync_at = now() - interval '2 hours' WHERE tenant_id = ${tenant}`);

t.test('a deletion makes the next incremental run withhold its checkpoint, and the full run after it settles', async (t) => {
  const { h, auth, tenant } = await seeded(t);
  const full = await syncRun(h.sync, auth);
  t.equal(full.contacts.length, 5);

  await h.push(tenant, [{ id: 'b', deleted: true }, { id: 'f', name: 'F' }, { id: 'g', name: 'G' }, { id: 'h', name: 'H' }]);
  const inc = await syncRun(h.sync, auth, full.checkpoint);
  t.same(inc.contacts.map((c) => c.id), ['f', 'g', 'h'], 'changed contacts are delivered as usual');
  t.equal(inc.pages, 2);
  t.same(inc.pageCheckpoints, [undefined, undefined], 'no checkpoint on any page of the run');

  const next = await syncRun(h.sync, auth); // Talkdesk: no checkpoint held, so a full run
  t.same(next.contacts.map((c) => c.id).sort(), ['a', 'c', 'd', 'e', 'f', 'g', 'h'], 'the deleted contact is gone');
  t.type(next.checkpoint, 'string', 'a full run never withholds');

  const settled = await syncRun(h.sync, auth, next.checkpoint);
  t.same(settled.contacts, []);
  t.equal(settled.checkpoint, next.checkpoint, 'no loop: the deletion was reflected by the full run');
  const { rows } = await h.database.db.execute<{ at: string | null }>(
    sql`SELECT last_deletion_resync_at::text AS at FROM credentials WHERE tenant_id = ${tenant}`,
  );
  t.ok(rows[0]!.at, 'when the deletion resync happened is recorded');
});

t.test('deletion resyncs are rate-limited per tenant, and deletions in between wait, not vanish', async (t) => {
  const { h, auth, tenant } = await seeded(t, { DELETION_RESYNC_SECONDS: '3600' });
  let copy = await syncRun(h.sync, auth);
  await h.push(tenant, [{ id: 'a', deleted: true }]);
  t.equal((await syncRun(h.sync, auth, copy.checkpoint)).checkpoint, undefined, 'first deletion: resync');
  copy = await syncRun(h.sync, auth);

  await h.push(tenant, [{ id: 'c', deleted: true }, { id: 'x', name: 'X' }]);
  const limited = await syncRun(h.sync, auth, copy.checkpoint);
  t.type(limited.checkpoint, 'string', 'within the window: an ordinary incremental run');
  t.same(limited.contacts.map((c) => c.id), ['x']);
  const again = await syncRun(h.sync, auth, limited.checkpoint);
  t.type(again.checkpoint, 'string', 'still within the window');

  await windowPassed(h, tenant);
  const due = await syncRun(h.sync, auth, again.checkpoint);
  t.equal(due.checkpoint, undefined, 'the waiting deletion triggers the resync once the window has passed');
  const full = await syncRun(h.sync, auth);
  t.same(full.contacts.map((c) => c.id).sort(), ['b', 'd', 'e', 'x']);
});

t.test('DELETION_RESYNC_SECONDS=0 resyncs whenever deletions are pending', async (t) => {
  const { h, auth, tenant } = await seeded(t, { DELETION_RESYNC_SECONDS: '0' });
  let copy = await syncRun(h.sync, auth);
  for (const id of ['a', 'b']) {
    await h.push(tenant, [{ id, deleted: true }]);
    t.equal((await syncRun(h.sync, auth, copy.checkpoint)).checkpoint, undefined, `deleting ${id}`);
    copy = await syncRun(h.sync, auth);
  }
  t.same(copy.contacts.map((c) => c.id).sort(), ['c', 'd', 'e']);
});

t.test('a deletion that lands while a full run is in progress is caught by the next run', async (t) => {
  const { h, auth, tenant } = await seeded(t, { DELETION_RESYNC_SECONDS: '0' });
  const page1 = await h.sync({ auth, meta: {} });
  t.same(page1.body.contacts.map((c: { id: string }) => c.id), ['a', 'b']);
  // "a" was already delivered by this run; deleting it now cannot be reflected by the run.
  await h.push(tenant, [{ id: 'a', deleted: true }]);
  let body = page1.body;
  const copy = new Map<string, unknown>(body.contacts.map((c: { id: string }) => [c.id, c]));
  while (body.next_offset) {
    body = (await h.sync({ auth, meta: { offset: body.next_offset, context: null } })).body;
    for (const c of body.contacts) copy.set(c.id, c);
  }
  t.ok(copy.has('a'), 'the full run delivered "a" before it was deleted');
  const checkpoint = body.synchronization_checkpoint;
  t.type(checkpoint, 'string');
  const inc = await syncRun(h.sync, auth, checkpoint);
  t.equal(inc.checkpoint, undefined, 'the next incremental run asks for a full one');
  const full = await syncRun(h.sync, auth);
  t.notOk(full.contacts.some((c) => c.id === 'a'), 'and that one drops "a"');
});

t.test("the last page's checkpoint covers the tombstones the run passed over", async (t) => {
  const { h, auth, tenant } = await seeded(t);
  await h.push(tenant, [{ id: 'e', deleted: true }]); // the newest key is now a tombstone
  const full = await syncRun(h.sync, auth);
  const { rows } = await h.database.db.execute<{ us: string }>(
    sql`SELECT (extract(epoch FROM max(updated_at)) * 1000000)::bigint::text AS us FROM contacts WHERE tenant_id = ${tenant}`,
  );
  const payload = JSON.parse(Buffer.from(full.checkpoint!.split('.')[1]!, 'base64url').toString());
  t.equal(payload.t, rows[0]!.us, "the checkpoint is the tombstone's key, past the last live contact");
  const inc = await syncRun(h.sync, auth, full.checkpoint);
  t.same(inc.contacts, []);
  t.equal(inc.checkpoint, full.checkpoint, 'and an incremental run from it has nothing to withhold');
});
