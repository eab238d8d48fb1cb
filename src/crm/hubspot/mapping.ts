import type { CountryCode } from 'libphonenumber-js/max';
import type { Contact } from '../../mirror/contact.js';
import { clean, fit, list, MAX_ID, MAX_LONG_TEXT, MAX_TEXT } from '../contact-text.js';
import { normalizePhone } from '../phone.js';

/**
 * The HubSpot contact properties the mapping reads: pass them as the API's `properties=`.
 * `lastmodifieddate` and `hs_object_id` are not mapped but the sync needs them (cursor, id).
 */
export const HUBSPOT_CONTACT_PROPERTIES = [
  'firstname',
  'lastname',
  'email',
  'hs_additional_emails',
  'phone',
  'mobilephone',
  'company',
  'jobtitle',
  'address',
  'city',
  'state',
  'zip',
  'country',
  'website',
  'twitterhandle',
  'lastmodifieddate',
  'hs_object_id',
] as const;

export type HubSpotContactProperty = (typeof HUBSPOT_CONTACT_PROPERTIES)[number];

export interface HubSpotContactRecord {
  id: string;
  properties: Record<string, string | null | undefined>;
}

export interface MapHubSpotContactOptions {
  /** The HubSpot account (hub) id, for the record's link in the HubSpot app. */
  portalId: string | number;
  /** Region in which phone numbers without a country prefix are read (DEFAULT_PHONE_REGION). */
  defaultRegion: CountryCode;
}

export class HubSpotMappingError extends Error {
  override name = 'HubSpotMappingError';
}

/**
 * A HubSpot contact record → a Talkdesk contact. Every value is NUL-stripped and trimmed, an
 * empty one is absent, and fields with nothing to say are left out of the object, so the result
 * is already in the stored form (`normalizeContact` leaves it unchanged) and satisfies
 * ContactSchema: over-long values are cut to the schema's limits and lists to 100 items.
 *
 * Throws a HubSpotMappingError when the record id or the portal id is unusable: cutting or
 * inventing an id would merge or lose contacts, so such a record must not be mirrored.
 */
export function mapHubSpotContact(record: HubSpotContactRecord, options: MapHubSpotContactOptions): Contact {
  // Trimmed like every other value, but never otherwise altered: a NUL is refused, not stripped.
  const id = record.id.trim();
  if (id === '' || id.length > MAX_ID || id.includes('\u0000')) {
    throw new HubSpotMappingError(`unusable HubSpot record id ${JSON.stringify(record.id)}`);
  }
  const portalId = clean(String(options.portalId));
  if (portalId === undefined) {
    throw new HubSpotMappingError(`unusable HubSpot portal id ${JSON.stringify(options.portalId)}`);
  }

  const prop = (name: HubSpotContactProperty): string | undefined => clean(record.properties[name]);

  const company = fit(prop('company'), MAX_TEXT);
  const title = fit(prop('jobtitle'), MAX_TEXT);

  const emails = list(
    [prop('email'), ...(prop('hs_additional_emails')?.split(';') ?? []).map(clean)],
    (email) => email.toLowerCase(),
  );

  const phones = list(
    [prop('phone'), prop('mobilephone')].map((p) => (p === undefined ? undefined : normalizePhone(p, options.defaultRegion))),
    (phone) => phone,
  );

  const address = fit(
    [prop('address'), prop('city'), prop('state'), prop('zip'), prop('country')]
      .filter((part) => part !== undefined)
      .join(', ') || undefined,
    MAX_LONG_TEXT,
  );

  const website = fit(prop('website'), MAX_TEXT);
  // A handle cannot contain `@`, so every leading one goes (`@@handle` → `handle`, `@` → absent).
  const twitter = fit(clean(prop('twitterhandle')?.replace(/^@+/, '')), MAX_TEXT);

  const fullName = clean(`${prop('firstname') ?? ''} ${prop('lastname') ?? ''}`);
  const name = fit(fullName ?? emails[0] ?? phones[0] ?? company ?? `HubSpot contact ${id}`, MAX_TEXT);

  const contact: Contact = { id, name };
  if (company !== undefined) contact.company = company;
  if (title !== undefined) contact.title = title;
  if (emails.length > 0) contact.emails = emails;
  if (phones.length > 0) contact.phones = phones;
  if (address !== undefined) contact.address = address;
  if (website !== undefined) contact.websites = [website];
  if (twitter !== undefined) contact.twitter = twitter;
  contact.url = `https://app.hubspot.com/contacts/${encodeURIComponent(portalId)}/record/0-1/${encodeURIComponent(id)}`;
  return contact;
}
