import { propertyValuesError, validationError, type PropertyProblem } from './errors.js';

/**
 * The contact record as the simulator keeps it, and its JSON form as HubSpot's CRM v3 sends it.
 *
 * A record is an immutable version: an edit makes a new one. The search index can then keep
 * serving the version it last indexed while a newer one waits out the index lag, as HubSpot's
 * search does.
 */

/** Properties a caller may set, in HubSpot's internal names. */
export const EDITABLE_PROPERTIES = [
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
] as const;

/**
 * Set by HubSpot itself; rejected on writes as HubSpot rejects read-only properties.
 * `hs_merged_object_ids` lists the ids merged into a contact, semicolon-separated ("101;205"),
 * as HubSpot's multi-value properties are; null on a contact that absorbed none.
 */
export const READ_ONLY_PROPERTIES = ['hs_object_id', 'createdate', 'lastmodifieddate', 'hs_merged_object_ids'] as const;

export type EditableProperty = (typeof EDITABLE_PROPERTIES)[number];
export type ContactProps = { readonly [K in EditableProperty]: string | null };
export type PropertyInput = Partial<Record<EditableProperty, string | null>>;

/** What HubSpot returns when a read names no properties. */
export const DEFAULT_PROPERTIES = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'] as const;

const EDITABLE = new Set<string>(EDITABLE_PROPERTIES);
const KNOWN = new Set<string>([...EDITABLE_PROPERTIES, ...READ_ONLY_PROPERTIES]);

export function isEditableProperty(name: string): name is EditableProperty {
  return EDITABLE.has(name);
}

export function isKnownProperty(name: string): boolean {
  return KNOWN.has(name);
}

export interface ContactVersion {
  readonly id: number;
  readonly props: ContactProps;
  readonly createdAt: number;
  /** lastmodifieddate and updatedAt, in epoch ms. */
  readonly updatedAt: number;
  readonly archivedAt: number | null;
  /** Ids merged into this contact (and into those, transitively), ascending; empty for most. */
  readonly mergedIds: readonly number[];
}

/** The JSON HubSpot sends for one object (SimplePublicObject). */
export interface ApiContact {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  archivedAt?: string;
}

/**
 * Every record gets every key, in one order, so V8 gives all of them one hidden class: a million
 * contacts then cost a fixed-size object each instead of a dictionary each.
 */
export function makeProps(input: PropertyInput, base?: ContactProps): ContactProps {
  const pick = (k: EditableProperty): string | null => (k in input ? (input[k] ?? null) : (base?.[k] ?? null));
  return {
    firstname: pick('firstname'),
    lastname: pick('lastname'),
    email: pick('email'),
    hs_additional_emails: pick('hs_additional_emails'),
    phone: pick('phone'),
    mobilephone: pick('mobilephone'),
    company: pick('company'),
    jobtitle: pick('jobtitle'),
    address: pick('address'),
    city: pick('city'),
    state: pick('state'),
    zip: pick('zip'),
    country: pick('country'),
    website: pick('website'),
    twitterhandle: pick('twitterhandle'),
  };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** One property's value as HubSpot reports it; undefined for a name the schema does not have. */
export function propertyValue(c: ContactVersion, name: string): string | null | undefined {
  switch (name) {
    case 'hs_object_id':
      return String(c.id);
    case 'createdate':
      return iso(c.createdAt);
    case 'lastmodifieddate':
      return iso(c.updatedAt);
    case 'hs_merged_object_ids':
      return c.mergedIds.length === 0 ? null : c.mergedIds.join(';');
    default:
      return isEditableProperty(name) ? c.props[name] : undefined;
  }
}

/**
 * `requested` undefined means HubSpot's defaults. Requested names the schema lacks are left out
 * (HubSpot ignores them); known ones without a value come back as null. The three system
 * properties always come back, as they do from HubSpot.
 */
export function toApiContact(c: ContactVersion, requested?: readonly string[]): ApiContact {
  const names = requested ?? DEFAULT_PROPERTIES;
  const properties: Record<string, string | null> = {};
  for (const name of names) {
    const v = propertyValue(c, name);
    if (v !== undefined) properties[name] = v;
  }
  properties.hs_object_id = String(c.id);
  properties.createdate = iso(c.createdAt);
  properties.lastmodifieddate = iso(c.updatedAt);
  const out: ApiContact = {
    id: String(c.id),
    properties,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
    archived: c.archivedAt !== null,
  };
  if (c.archivedAt !== null) out.archivedAt = iso(c.archivedAt);
  return out;
}

/** Every property, for tests that compare a mirror with the source. */
export function toFullContact(c: ContactVersion): ApiContact {
  const full = toApiContact(c, [...EDITABLE_PROPERTIES]);
  // Only on a survivor of a merge, so that every other contact keeps the shape it always had.
  if (c.mergedIds.length > 0) full.properties.hs_merged_object_ids = c.mergedIds.join(';');
  return full;
}

/**
 * Checks a write's properties as HubSpot does: unknown and read-only names are rejected, all
 * problems reported at once. Numbers and booleans become strings (HubSpot stores every value as
 * one); an empty string is kept, since clients do send "" to clear a value.
 */
export function parsePropertyInput(raw: unknown): PropertyInput {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw validationError('properties must be an object of property names to values');
  }
  const problems: PropertyProblem[] = [];
  const out: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(raw)) {
    if ((READ_ONLY_PROPERTIES as readonly string[]).includes(name)) {
      problems.push({ name, error: 'READ_ONLY_VALUE', message: `${name} is a read only property; its value cannot be set.` });
    } else if (!isEditableProperty(name)) {
      problems.push({ name, error: 'PROPERTY_DOESNT_EXIST', message: `Property "${name}" does not exist` });
    } else if (value === null || typeof value === 'string') {
      out[name] = value;
    } else if (typeof value === 'number' || typeof value === 'boolean') {
      out[name] = String(value);
    } else {
      problems.push({ name, error: 'INVALID_OPTION', message: `${JSON.stringify(value)} is not a valid value for ${name}` });
    }
  }
  if (problems.length > 0) throw propertyValuesError(problems);
  return out as PropertyInput;
}
