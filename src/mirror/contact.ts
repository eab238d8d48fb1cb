import { Type, type Static } from '@sinclair/typebox';

/**
 * Text that PostgreSQL can store: no U+0000 (text cannot hold it) and no lone UTF-16 surrogate
 * (the writer hands its batch to PostgreSQL as JSON, whose parser refuses an unpaired `\ud800`).
 * Refusing them in the schema keeps a bad item a 400, not a failed write. TypeBox compiles
 * patterns without the `u` flag, so this reads UTF-16 code units and pairs them itself.
 */
export const STORABLE_TEXT = '^(?:[^\\u0000\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])*$';
const str = (maxLength: number) => Type.String({ maxLength, pattern: STORABLE_TEXT });
const strList = Type.Array(str(2048), { maxItems: 100 });

/** The longest contact id, in UTF-16 code units (a path parameter of the admin API too). */
export const CONTACT_ID_MAX_LENGTH = 512;

/** A contact in Talkdesk's shape: the response of the sync endpoint and the body of the admin push. */
export const ContactSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: CONTACT_ID_MAX_LENGTH, pattern: STORABLE_TEXT }),
    name: Type.String({ minLength: 1, maxLength: 2048, pattern: STORABLE_TEXT }),
    company: Type.Optional(str(2048)),
    title: Type.Optional(str(2048)),
    emails: Type.Optional(strList),
    phones: Type.Optional(strList),
    photo_url: Type.Optional(str(4096)),
    address: Type.Optional(str(4096)),
    websites: Type.Optional(strList),
    twitter: Type.Optional(str(2048)),
    url: Type.Optional(str(4096)),
  },
  { additionalProperties: false },
);
export type Contact = Static<typeof ContactSchema>;

/** `{ "id": "…", "deleted": true }` removes a contact from the mirror (it becomes a tombstone). */
export const TombstoneSchema = Type.Object(
  {
    id: ContactSchema.properties.id,
    deleted: Type.Literal(true),
  },
  { additionalProperties: false },
);
export type Tombstone = Static<typeof TombstoneSchema>;

export type ContactChange = Contact | Tombstone;

export const isTombstone = (c: ContactChange): c is Tombstone => (c as Tombstone).deleted === true;

const textFields = ['company', 'title', 'photo_url', 'address', 'twitter', 'url'] as const;
const listFields = ['emails', 'phones', 'websites'] as const;

/**
 * The stored form of a contact: trimmed, with empty strings and empty lists absent, so that
 * "nothing to say" has one representation and an edit that only blanks a field compares equal
 * to the field being absent. Returns undefined when the name is blank.
 */
export function normalizeContact(c: Contact): Contact | undefined {
  const name = c.name.trim();
  if (name === '') return undefined;
  const out: Contact = { id: c.id, name };
  for (const f of textFields) {
    const v = c[f]?.trim();
    if (v) out[f] = v;
  }
  for (const f of listFields) {
    const v = c[f]?.map((s) => s.trim()).filter((s) => s !== '');
    if (v && v.length > 0) out[f] = v;
  }
  return out;
}
