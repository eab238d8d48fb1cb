import { Type, type Static } from '@sinclair/typebox';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { ContactSchema } from '../mirror/contact.js';
import { HISTORY_FIELDS, readHistory, WriteSourceSchema } from '../mirror/history.js';
import { listCredentials } from '../tenants/credentials.js';
import { deliveryOf, DeliverySchema } from './contact-delivery.js';
import { isoUtc } from './tenant-summary.js';

const Timestamp = Type.String({ description: 'ISO 8601, UTC, microseconds' });

/** GET /admin/tenants/:id/contacts/:contactId. Scripts rely on these names. */
export const ContactDetailSchema = Type.Object({
  id: Type.String(),
  deleted: Type.Boolean(),
  contact: Type.Composite([Type.Pick(ContactSchema, ['id']), Type.Partial(Type.Omit(ContactSchema, ['id']))], {
    description: 'exactly the document the sync endpoint sends Talkdesk (its last version, for a deleted contact; only the id once erased)',
  }),
  key: Type.Object(
    { updated_at: Timestamp, id: Type.String() },
    { description: "the version's position in the tenant's change order, which Talkdesk's checkpoints are compared with" },
  ),
  crm_url: Type.Optional(Type.String({ description: "the contact's page in the CRM" })),
  crm_changed_at: Type.Optional(Type.String({ description: "when the CRM last changed the contact, by the CRM's clock (absent for pushed contacts)" })),
  history: Type.Array(
    Type.Object({
      at: Timestamp,
      source: WriteSourceSchema,
      fields: Type.Array(Type.Union(HISTORY_FIELDS.map((f) => Type.Literal(f))), { description: 'the Talkdesk fields this version changed' }),
      deleted: Type.Boolean({ description: 'this version is the deletion' }),
    }),
    { description: 'newest first; at most 20 versions and CONTACT_HISTORY_DAYS days' },
  ),
  copies: Type.Array(
    Type.Object({
      credential: Type.String({ description: "the credential's id: one Talkdesk copy of the tenant" }),
      label: Type.Optional(Type.String()),
      status: Type.String(),
      last_sync_at: Type.Optional(Timestamp),
      delivery: DeliverySchema,
    }),
  ),
});
export type ContactDetail = Static<typeof ContactDetailSchema>;

/** The contact as operators see it: undefined when the tenant has no contact with this id. */
export async function contactDetail(db: Db, tenantId: string, contactId: string): Promise<ContactDetail | undefined> {
  return (await contactDetails(db, tenantId, [contactId]))[0];
}

/** The details of several contacts of a tenant (a lookup's page), in the order of `ids`; unknown ids are left out. */
export async function contactDetails(db: Db, tenantId: string, ids: readonly string[]): Promise<ContactDetail[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.execute<{ id: string; doc: string; url: string | null; deleted: boolean; us: string; at: string; crm_at: string | null }>(sql`
    SELECT id, doc, url, deleted_at IS NOT NULL AS deleted,
           (extract(epoch FROM updated_at) * 1000000)::bigint::text AS us,
           to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at,
           to_char(source_updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS crm_at
    FROM contacts WHERE tenant_id = ${tenantId} AND id = ANY(${sql.param(ids)}::text[])`);
  if (rows.length === 0) return [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const copies = await listCredentials(db, [tenantId]);
  const out: ContactDetail[] = [];
  for (const contactId of ids) {
    const row = byId.get(contactId);
    if (!row) continue;
    const history = await readHistory(db, tenantId, contactId);
    const version = { us: BigInt(row.us), id: contactId, deleted: row.deleted };
    out.push({
      id: contactId,
      deleted: row.deleted,
      contact: JSON.parse(row.doc) as ContactDetail['contact'],
      key: { updated_at: row.at, id: contactId },
      ...(row.url !== null ? { crm_url: row.url } : {}),
      ...(row.crm_at !== null ? { crm_changed_at: row.crm_at } : {}),
      history,
      copies: copies.map((c) => ({
        credential: c.id,
        label: c.label,
        status: c.status,
        ...(c.lastSyncAt !== null ? { last_sync_at: isoUtc(c.lastSyncAt)! } : {}),
        delivery: deliveryOf(version, c),
      })),
    });
  }
  return out;
}
