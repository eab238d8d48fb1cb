import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import { freshDatabase } from './helpers/database.js';
import { writeContacts } from '../src/mirror/writer.js';
import { createTenant, deleteTenant } from '../src/tenants/repository.js';
import { deriveKeys } from '../src/tenants/keys.js';
import type { Db } from '../src/db/client.js';

const keys = deriveKeys('writer-test-secret-writer-test-secret');

async function setup(t: Test) {
  const database = await freshDatabase(t);
  const tenant = await createTenant(database.db, keys, { name: 't', crm: 'push', auth: { k: Math.random() }, backfillComplete: true });
  return { db: database.db, tenantId: tenant.id };
}

async function rows(db: Db, tenantId: string) {
  const res = await db.execute<{ id: string; name: string; emails: string[] | null; updated_at: string; deleted_at: string | null }>(
    sql`SELECT id, name, emails, updated_at::text, deleted_at::text FROM contacts WHERE tenant_id = ${tenantId} ORDER BY id`,
  );
  return new Map(res.rows.map((r) => [r.id, r]));
}

t.test('counts inserted, updated, unchanged and deleted', async (t) => {
  const { db, tenantId } = await setup(t);
  t.same(await writeContacts(db, tenantId, [{ id: 'a', name: 'A' }, { id: 'b', name: 'B' }], 'admin_push'), {
    inserted: 2,
    updated: 0,
    unchanged: 0,
    deleted: 0,
  });
  t.same(
    await writeContacts(db, tenantId, [
      { id: 'a', name: 'A' },
      { id: 'b', name: 'B2' },
      { id: 'c', name: 'C' },
      { id: 'zz', deleted: true },
    ], 'admin_push'),
    { inserted: 1, updated: 1, unchanged: 2, deleted: 0 },
    'a tombstone for an unknown id changes nothing and counts as unchanged',
  );
  t.same(await writeContacts(db, tenantId, [{ id: 'a', deleted: true }], 'admin_push'), { inserted: 0, updated: 0, unchanged: 0, deleted: 1 });
  t.same(
    await writeContacts(db, tenantId, [{ id: 'a', deleted: true }], 'admin_push'),
    { inserted: 0, updated: 0, unchanged: 1, deleted: 0 },
    'tombstoning an already-deleted id changes nothing',
  );
  t.same(await writeContacts(db, tenantId, [], 'admin_push'), { inserted: 0, updated: 0, unchanged: 0, deleted: 0 });
});

t.test('an unchanged row keeps its updated_at; a changed one gets a later one', async (t) => {
  const { db, tenantId } = await setup(t);
  await writeContacts(db, tenantId, [
    { id: 'a', name: 'A', emails: ['x@example.com'] },
    { id: 'b', name: 'B' },
  ], 'admin_push');
  const before = await rows(db, tenantId);
  await writeContacts(db, tenantId, [
    { id: 'a', name: ' A ', emails: ['x@example.com', ''], title: '' },
    { id: 'b', name: 'B', title: 'new title' },
  ], 'admin_push');
  const after = await rows(db, tenantId);
  t.equal(after.get('a')!.updated_at, before.get('a')!.updated_at, 'normalized-equal content is not rewritten');
  t.ok(after.get('b')!.updated_at > before.get('b')!.updated_at, 'a real change moves updated_at');
});

t.test('a tombstone bumps updated_at; pushing the id again revives it', async (t) => {
  const { db, tenantId } = await setup(t);
  await writeContacts(db, tenantId, [{ id: 'a', name: 'A' }], 'admin_push');
  const live = (await rows(db, tenantId)).get('a')!;
  await writeContacts(db, tenantId, [{ id: 'a', deleted: true }], 'admin_push');
  const dead = (await rows(db, tenantId)).get('a')!;
  t.ok(dead.deleted_at, 'tombstoned');
  t.ok(dead.updated_at > live.updated_at, 'the deletion is a change in key order');
  t.equal(dead.deleted_at, dead.updated_at);
  t.same(await writeContacts(db, tenantId, [{ id: 'a', name: 'A' }], 'admin_push'), { inserted: 0, updated: 1, unchanged: 0, deleted: 0 });
  const revived = (await rows(db, tenantId)).get('a')!;
  t.equal(revived.deleted_at, null);
  t.ok(revived.updated_at > dead.updated_at);
});

t.test('a version older than the stored one (by the CRM\'s change time) is never written over it', async (t) => {
  // A late webhook read, or a poll page from HubSpot's lagging search index, brings an older version.
  const { db, tenantId } = await setup(t);
  await writeContacts(db, tenantId, [{ id: 'a', name: 'newest', source_updated_at: '2026-01-02T00:00:00.000Z' }], 'webhook');
  const stored = (await rows(db, tenantId)).get('a')!;
  t.same(
    await writeContacts(db, tenantId, [{ id: 'a', name: 'older', source_updated_at: '2026-01-01T00:00:00.000Z' }], 'poll'),
    { inserted: 0, updated: 0, unchanged: 1, deleted: 0 },
  );
  t.same((await rows(db, tenantId)).get('a'), stored, 'the newer version and its key stay');
  await writeContacts(db, tenantId, [{ id: 'a', name: 'same instant', source_updated_at: '2026-01-02T00:00:00.000Z' }], 'poll');
  t.equal((await rows(db, tenantId)).get('a')!.name, 'same instant', 'a version of the same instant is written (the CRM may change a contact twice in one millisecond)');
  await writeContacts(db, tenantId, [{ id: 'a', name: 'later', source_updated_at: '2026-01-03T00:00:00.000Z' }], 'webhook');
  t.equal((await rows(db, tenantId)).get('a')!.name, 'later');
  await writeContacts(db, tenantId, [{ id: 'a', deleted: true }], 'webhook');
  await writeContacts(db, tenantId, [{ id: 'a', name: 'stale revival', source_updated_at: '2026-01-01T00:00:00.000Z' }], 'poll');
  t.ok((await rows(db, tenantId)).get('a')!.deleted_at, 'an older version does not revive a tombstone that kept a newer one');
  await writeContacts(db, tenantId, [{ id: 'a', name: 'pushed' }], 'admin_push');
  t.equal((await rows(db, tenantId)).get('a')!.name, 'pushed', 'a change without a CRM time is always written');
});

t.test('within one batch the last item for an id wins', async (t) => {
  const { db, tenantId } = await setup(t);
  const counts = await writeContacts(db, tenantId, [
    { id: 'a', name: 'first' },
    { id: 'b', name: 'B' },
    { id: 'a', name: 'second' },
    { id: 'b', deleted: true },
    { id: 'c', deleted: true },
    { id: 'c', name: 'C' },
  ], 'admin_push');
  t.same(counts, { inserted: 2, updated: 0, unchanged: 1, deleted: 0 }, 'b ends deleted before ever existing');
  const r = await rows(db, tenantId);
  t.equal(r.get('a')!.name, 'second');
  t.notOk(r.has('b'));
  t.equal(r.get('c')!.name, 'C');
});

t.test('each write is later than the last, even when the clock is behind last_change_at', async (t) => {
  const { db, tenantId } = await setup(t);
  // A clock step backwards looks, to the writer, like last_change_at lying in the future.
  await db.execute(sql`UPDATE tenants SET last_change_at = now() + interval '1 hour' WHERE id = ${tenantId}`);
  await writeContacts(db, tenantId, [{ id: 'a', name: 'A' }], 'admin_push');
  await writeContacts(db, tenantId, [{ id: 'b', name: 'B' }], 'admin_push');
  const res = await db.execute<{ id: string; later: boolean; step: string }>(sql`
    SELECT c.id, c.updated_at > now() + interval '59 minutes' AS later,
           (extract(epoch FROM c.updated_at - lag(c.updated_at) OVER (ORDER BY c.updated_at)) * 1e6)::bigint::text AS step
    FROM contacts c WHERE tenant_id = ${tenantId} ORDER BY updated_at`);
  t.same(
    res.rows.map((r) => [r.id, r.later]),
    [
      ['a', true],
      ['b', true],
    ],
  );
  t.equal(res.rows[1]!.step, '1', 'exactly one microsecond after the previous write');
  const tenant = await db.execute<{ same: boolean }>(
    sql`SELECT last_change_at = (SELECT max(updated_at) FROM contacts WHERE tenant_id = ${tenantId}) AS same FROM tenants WHERE id = ${tenantId}`,
  );
  t.ok(tenant.rows[0]!.same, 'last_change_at is the last write');
});

t.test('a batch is one transaction: a failure writes nothing', async (t) => {
  const { db, tenantId } = await setup(t);
  await t.rejects(
    writeContacts(db, tenantId, [{ id: 'ok', name: 'fine' }, { id: 'bad', name: '   ' }], 'admin_push'),
    { code: 'INVALID_CONTACT', index: 1 },
  );
  await t.rejects(
    writeContacts(db, tenantId, [{ id: 'ok', name: 'fine' }], 'admin_push', async () => {
      throw new Error('the caller failed after the batch');
    }),
    /caller failed/,
  );
  t.equal((await rows(db, tenantId)).size, 0);
  await t.rejects(writeContacts(db, '00000000-0000-0000-0000-000000000000', [{ id: 'x', name: 'X' }], 'admin_push'), {
    code: 'TENANT_NOT_FOUND',
  });
});

t.test('arrays, unicode, quotes and COPY\'s own special characters survive the batch exactly', async (t) => {
  const { db, tenantId } = await setup(t);
  const odd = {
    id: 'ü-"quoted"-\\slash-😀\ttab',
    name: 'Zoë "Q" O\'Brien, {braces} \\N back\\slash\nnew line\r\tend',
    emails: ['a,b@example.com', '"x"@example.com', 'NULL', '{}', 'tab\there', 'back\\slash\\"', 'line\nbreak', '\\N'],
    phones: ['+351 21 000 0000'],
    websites: ['https://example.com/a?b=c&d'],
  };
  await writeContacts(db, tenantId, [odd], 'admin_push');
  const r = (await rows(db, tenantId)).get(odd.id)!;
  t.equal(r.name, odd.name);
  t.same(r.emails, odd.emails);
  t.same(await writeContacts(db, tenantId, [odd], 'admin_push'), { inserted: 0, updated: 0, unchanged: 1, deleted: 0 });
});

t.test('contacts and tombstones in one batch share one timestamp', async (t) => {
  const { db, tenantId } = await setup(t);
  await writeContacts(db, tenantId, [{ id: 'a', name: 'A' }, { id: 'b', name: 'B' }], 'admin_push');
  t.same(await writeContacts(db, tenantId, [{ id: 'a', deleted: true }, { id: 'c', name: 'C' }, { id: 'b', name: 'B' }, { id: 'zz', deleted: true }], 'admin_push'), {
    inserted: 1,
    updated: 0,
    unchanged: 2,
    deleted: 1,
  });
  const after = await rows(db, tenantId);
  t.equal(after.get('a')!.deleted_at, after.get('a')!.updated_at);
  t.equal(after.get('c')!.updated_at, after.get('a')!.updated_at, 'one write, one time');
  t.ok(after.get('b')!.updated_at < after.get('c')!.updated_at, 'the unchanged contact kept its time');
  const { rows: tenant } = await db.execute<{ last: string }>(sql`SELECT last_change_at::text AS last FROM tenants WHERE id = ${tenantId}`);
  t.equal(tenant[0]!.last, after.get('c')!.updated_at);
});

t.test('deleting a tenant waits for a batch being written, takes its contacts, and refuses later batches', async (t) => {
  const { db, tenantId } = await setup(t);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const writing = writeContacts(db, tenantId, [{ id: 'late', name: 'Written while the tenant is deleted' }], 'admin_push', async () => {
    entered();
    await gate;
  });
  await inside;
  let deletedFirst = false;
  const deleting = deleteTenant(db, tenantId).then((r) => ((deletedFirst = true), r));
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.notOk(deletedFirst, 'the delete waits for the batch holding the tenant');
  release();
  await writing;
  t.equal(await deleting, true);
  const { rows: left } = await db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM contacts WHERE tenant_id = ${tenantId}`);
  t.equal(left[0]!.n, '0', 'no contact outlives its tenant');
  await t.rejects(writeContacts(db, tenantId, [{ id: 'x', name: 'X' }], 'admin_push'), { code: 'TENANT_NOT_FOUND' });
  t.equal(await deleteTenant(db, tenantId), false);
});
