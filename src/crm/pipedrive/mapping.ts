import type { CountryCode } from 'libphonenumber-js/max';
import type { Contact } from '../../mirror/contact.js';
import { clean, fit, list, MAX_ID, MAX_LONG_TEXT, MAX_TEXT } from '../contact-text.js';
import { normalizePhone } from '../phone.js';

/** One of a person's emails or phones, as API v2 lists them. */
export interface PipedriveLabeledValue {
  value?: string | null;
  primary?: boolean | null;
  label?: string | null;
}

/** A postal address: the formatted `value` and, when Pipedrive parsed it, its parts. */
export interface PipedriveAddress {
  value?: string | null;
  street_number?: string | null;
  route?: string | null;
  subpremise?: string | null;
  sublocality?: string | null;
  locality?: string | null;
  admin_area_level_1?: string | null;
  admin_area_level_2?: string | null;
  postal_code?: string | null;
  country?: string | null;
}

/**
 * A person as `GET /api/v2/persons` lists it: only what the mapping and the passes read. Values are
 * the CRM's and untrusted, so every field may be missing, null or of an odd shape.
 */
export interface PipedrivePerson {
  id: number | string;
  name?: string | null;
  emails?: PipedriveLabeledValue[] | null;
  phones?: PipedriveLabeledValue[] | null;
  org_id?: number | null;
  job_title?: string | null;
  postal_address?: PipedriveAddress | null;
  /** API v2 gives the picture's id; v1-shaped lists embed the picture with its URLs. */
  picture_id?: number | { pictures?: Record<string, string | null | undefined> | null } | null;
  update_time?: string | null;
  is_deleted?: boolean | null;
}

export interface MapPipedrivePersonOptions {
  /** The company's subdomain (`users/me` → `company_domain`), for the person's link in Pipedrive. */
  companyDomain: string | undefined;
  /** The name of the person's organization, when it has one. */
  orgName: string | undefined;
  /** Region in which phone numbers without a country prefix are read (DEFAULT_PHONE_REGION). */
  defaultRegion: CountryCode;
}

export class PipedriveMappingError extends Error {
  override name = 'PipedriveMappingError';
}

/** A subdomain as Pipedrive makes them: letters, digits and hyphens. Anything else makes no link. */
const SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * A Pipedrive person → a Talkdesk contact (issue 14's mapping, exactly):
 * - `id`: the person id as a string;
 * - `name`: the person's name, else the first email, the first phone, the company, or
 *   "Pipedrive person <id>";
 * - `emails`, `phones`: the primary one first, then in the API's order; emails de-duplicated
 *   case-insensitively (the first spelling kept), phones normalized as HubSpot's are (E.164 in the
 *   default region; kept as given when they have digits but do not parse; dropped without digits);
 * - `company`: the organization's name; `title`: `job_title`; `address`: `postal_address.value`,
 *   or its parts joined as HubSpot's are; `photo_url`: the picture URL when the list carries one;
 *   `url`: the person in the Pipedrive app.
 * Every value is cleaned and cut as the mirror stores it, and empty fields are left out.
 *
 * Throws a PipedriveMappingError for a person whose id cannot be stored.
 */
export function mapPipedrivePerson(person: PipedrivePerson, options: MapPipedrivePersonOptions): Contact {
  const id = typeof person.id === 'number' && Number.isSafeInteger(person.id) ? String(person.id) : clean(typeof person.id === 'string' ? person.id : undefined);
  if (id === undefined || id.length > MAX_ID) throw new PipedriveMappingError(`unusable Pipedrive person id ${JSON.stringify(person.id)}`);

  const company = fit(clean(options.orgName), MAX_TEXT);
  const title = fit(text(person.job_title), MAX_TEXT);
  const emails = list(primaryFirst(person.emails).map((e) => text(e.value)), (email) => email.toLowerCase());
  const phones = list(
    primaryFirst(person.phones).map((p) => {
      const value = text(p.value);
      return value === undefined ? undefined : normalizePhone(value, options.defaultRegion);
    }),
    (phone) => phone,
  );
  const address = fit(formatAddress(person.postal_address), MAX_LONG_TEXT);
  const photo = pictureUrl(person.picture_id);
  const name = fit(text(person.name) ?? emails[0] ?? phones[0] ?? company ?? `Pipedrive person ${id}`, MAX_TEXT);

  const contact: Contact = { id, name };
  if (company !== undefined) contact.company = company;
  if (title !== undefined) contact.title = title;
  if (emails.length > 0) contact.emails = emails;
  if (phones.length > 0) contact.phones = phones;
  if (photo !== undefined) contact.photo_url = photo;
  if (address !== undefined) contact.address = address;
  const domain = clean(options.companyDomain);
  if (domain !== undefined && SUBDOMAIN.test(domain)) {
    contact.url = `https://${domain.toLowerCase()}.pipedrive.com/person/${encodeURIComponent(id)}`;
  }
  return contact;
}

/** A string value, cleaned; anything else (a number, an object) is no text. */
const text = (v: unknown): string | undefined => (typeof v === 'string' ? clean(v) : undefined);

/** The primary entries first, then the others, each group in the API's order. */
function primaryFirst(items: PipedriveLabeledValue[] | null | undefined): PipedriveLabeledValue[] {
  const valid = Array.isArray(items) ? items.filter((i): i is PipedriveLabeledValue => typeof i === 'object' && i !== null) : [];
  return [...valid.filter((i) => i.primary === true), ...valid.filter((i) => i.primary !== true)];
}

/** `value` when Pipedrive formatted one; else street, city, state, postal code and country, as HubSpot's parts are joined. */
function formatAddress(a: PipedriveAddress | null | undefined): string | undefined {
  if (typeof a !== 'object' || a === null) return undefined;
  const formatted = text(a.value);
  if (formatted !== undefined) return formatted;
  const street = clean([text(a.street_number), text(a.route)].filter((p) => p !== undefined).join(' '));
  const line = [street, text(a.subpremise)].filter((p) => p !== undefined).join(', ') || undefined;
  return [line, text(a.locality), text(a.admin_area_level_1), text(a.postal_code), text(a.country)].filter((p) => p !== undefined).join(', ') || undefined;
}

/** The largest picture a list embeds (`{ pictures: { 512, 128 } }`); an http(s) URL or nothing. */
function pictureUrl(picture: PipedrivePerson['picture_id']): string | undefined {
  if (typeof picture !== 'object' || picture === null) return undefined;
  const pictures = picture.pictures;
  if (typeof pictures !== 'object' || pictures === null) return undefined;
  for (const size of ['512', '128']) {
    const url = text(pictures[size]);
    if (url !== undefined && /^https?:\/\//i.test(url) && url.length <= MAX_LONG_TEXT) return url;
  }
  return undefined;
}
