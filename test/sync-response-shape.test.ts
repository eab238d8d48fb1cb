import t from 'tap';
import { readFile } from 'node:fs/promises';
import { Value } from '@sinclair/typebox/value';
import { sql } from 'drizzle-orm';
import { SyncResponseSchema } from '../src/sync/schema.js';
import { buildTestApp } from './helpers/app.js';

// The sync route sends the contacts' stored JSON as it is, past Fastify's response serializer;
// these tests hold every answer to the schema the serializer would have enforced.

const contacts = [
  { id: 'full', name: 'Zoë "Q" O\'Brien', company: 'Acme', title: 'CEO', emails: ['a@example.com', 'b\\c@example.com'], phones: ['+14155550100'], photo_url: 'https://example.com/p.png', address: '1 Main St\nSuite 2\tBack', websites: ['https://example.com'], twitter: '@zoe', url: 'https://crm.example.com/1' },
  { id: 'bare', name: 'Only A Name' },
  { id: 'blanks', name: '  Padded  ', company: '   ', emails: ['', '  '], phones: [] },
  { id: 'unicode-😀', name: '名前 😀 \u2028 line separator' },
  // Third in key order, so page 1 ends on it and page 2 continues from its id, which the page
  // statement carries as a quoted literal.
  { id: "c'q\\\"$1", name: 'Quotes in the id' },
];

t.test('every page of a run is exactly SyncResponseSchema: no internal field, no null, no missing contact', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '3' });
  const auth = { api_key: 'shape' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, [...contacts, { id: 'gone', name: 'Gone' }]);
  await h.push(tenant, [{ id: 'gone', deleted: true }]);

  const received = [];
  let meta: Record<string, unknown> = {};
  for (let page = 1; ; page++) {
    const res = await h.app.inject({ method: 'POST', url: '/contact_sync', payload: { auth, meta } });
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^application\/json; charset=utf-8/);
    const body = res.json();
    t.ok(Value.Check(SyncResponseSchema, body), `page ${page} validates: ${[...Value.Errors(SyncResponseSchema, body)].map((e) => `${e.path} ${e.message}`).join('; ')}`);
    t.same(Object.keys(body).filter((k) => !['contacts', 'next_offset', 'synchronization_checkpoint'].includes(k)), [], 'nothing else at the top');
    for (const c of body.contacts) {
      t.notOk(Object.values(c).some((v) => v === null), `${c.id}: absent fields are left out, not null`);
      t.notOk(Object.keys(c).some((k) => k.startsWith('_')), `${c.id}: no internal key field`);
    }
    received.push(...body.contacts);
    if (!body.next_offset) break;
    meta = { offset: body.next_offset, context: body.context ?? null };
  }
  t.same(
    received.sort((a, b) => (a.id < b.id ? -1 : 1)),
    [
      { id: 'bare', name: 'Only A Name' },
      { id: 'blanks', name: 'Padded' },
      { id: "c'q\\\"$1", name: 'Quotes in the id' },
      contacts[0],
      { id: 'unicode-😀', name: '名前 😀 \u2028 line separator' },
    ],
    'the stored form of each contact, the tombstoned one absent',
  );
});

t.test("migration 0003 renders existing rows' documents as the writer does (same JSON value)", async (t) => {
  const h = await buildTestApp(t);
  const tenant = await h.createTenant({ api_key: 'migrated' });
  await h.push(tenant, contacts);
  const { rows: written } = await h.database.db.execute<{ id: string; doc: string }>(sql`SELECT id, doc FROM contacts`);
  const migration = await readFile(new URL('../migrations/0003_contact_doc.sql', import.meta.url), 'utf8');
  const update = migration.split('--> statement-breakpoint').find((s) => s.includes('UPDATE'))!;
  await h.database.db.execute(sql`UPDATE contacts SET doc = 'stale'`);
  await h.database.db.execute(sql.raw(update));
  const { rows: migrated } = await h.database.db.execute<{ id: string; doc: string }>(sql`SELECT id, doc FROM contacts`);
  t.equal(migrated.length, contacts.length);
  for (const row of migrated) {
    t.same(JSON.parse(row.doc), JSON.parse(written.find((w) => w.id === row.id)!.doc), row.id);
  }
  t.same(await h.push(tenant, contacts), { inserted: 0, updated: 0, unchanged: contacts.length, deleted: 0 }, 'a migrated row with the same content is unchanged');
  t.same(await h.push(tenant, [{ ...contacts[1]!, title: 'Now with a title' }]), { inserted: 0, updated: 1, unchanged: 0, deleted: 0 }, 'and a changed one is written');
});
