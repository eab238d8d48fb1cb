import { Type, type Static } from '@sinclair/typebox';
import createError from '@fastify/error';
import type { CountryCode } from 'libphonenumber-js/max';
import type { Db } from '../db/client.js';
import type { Tenant } from '../db/schema.js';
import { lookupContacts, type LookupQuery } from '../lookup/contact-lookup.js';
import { searchable } from '../lookup/search-keys.js';
import { phoneViews, verdicts } from '../lookup/verdicts.js';
import { ContactDetailSchema, contactDetails } from './contact-detail.js';

export const InvalidLookupError = createError<[string]>('INVALID_QUERY', '%s', 400);

/** A query as long as anything a person pastes, and no longer: the value is keyed, never stored. */
const QueryValue = (description: string) => Type.String({ minLength: 1, maxLength: 256, description });

export const LOOKUP_PAGE_SIZE = 20;
/** Paging goes this deep and no further: a broad name prefix is narrowed, not paged through. */
export const MAX_LOOKUP_OFFSET = 1_000;

export const LookupQuerystring = Type.Object({
  phone: Type.Optional(QueryValue("a phone number in any format (read in DEFAULT_PHONE_REGION unless it has a country prefix)")),
  email: Type.Optional(QueryValue('an email address, any case')),
  q: Type.Optional(QueryValue('the start of a name, any case, accents ignored')),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: LOOKUP_PAGE_SIZE })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_LOOKUP_OFFSET, description: 'next_offset of the previous page' })),
});
export type LookupQuerystring = Static<typeof LookupQuerystring>;

const PhoneViewSchema = Type.Object({
  stored: Type.String({ description: 'as stored: what Talkdesk receives' }),
  normalized: Type.Optional(Type.String({ description: 'E.164 in DEFAULT_PHONE_REGION, when it parses' })),
  parses: Type.Boolean(),
});

export const LookupItemSchema = Type.Object({
  ...ContactDetailSchema.properties,
  phones: Type.Array(PhoneViewSchema, { description: "the contact's phones as stored and as normalized" }),
  verdicts: Type.Array(Type.String(), { description: 'why a caller with this contact is or is not identified, in words' }),
});

/** GET /admin/tenants/:id/contacts. Scripts rely on these names. */
export const LookupResponseSchema = Type.Object({
  contacts: Type.Array(LookupItemSchema),
  next_offset: Type.Optional(Type.Integer({ description: 'the offset of the next page; absent on the last' })),
  partial: Type.Optional(
    Type.Boolean({ description: 'true while the key index catches up with a very large write (a backfill): a match among the newest contacts may be missing' }),
  ),
});
export type LookupResponse = Static<typeof LookupResponseSchema>;

/** Exactly one of phone, email, q, with a digit or a letter in it. */
export function lookupQuery(qs: Pick<LookupQuerystring, 'phone' | 'email' | 'q'>): LookupQuery {
  const given = (['phone', 'email', 'q'] as const).filter((k) => qs[k] !== undefined);
  if (given.length !== 1) throw new InvalidLookupError('give exactly one of phone, email or q');
  const field = given[0]!;
  const value = qs[field]!;
  if (field === 'phone' ? !/\p{Nd}/u.test(value) : !searchable(value)) {
    throw new InvalidLookupError(`${field} has no ${field === 'phone' ? 'digit' : 'digit or letter'} to search by`);
  }
  return { by: field === 'q' ? 'name' : field, value };
}

export async function lookup(
  db: Db,
  tenant: Pick<Tenant, 'id' | 'crm'>,
  query: LookupQuery,
  options: { region: CountryCode; limit?: number; offset?: number },
): Promise<LookupResponse> {
  const page = await lookupContacts(db, tenant.id, query, {
    region: options.region,
    limit: options.limit ?? LOOKUP_PAGE_SIZE,
    offset: options.offset ?? 0,
  });
  const details = await contactDetails(db, tenant.id, page.ids);
  return {
    contacts: details.map((d) => ({ ...d, phones: phoneViews(d.contact.phones, options.region), verdicts: verdicts(d, tenant.crm, options.region) })),
    ...(page.nextOffset !== undefined ? { next_offset: page.nextOffset } : {}),
    ...(page.partial ? { partial: true } : {}),
  };
}
