import { getCountryCallingCode, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { normalizePhone } from '../crm/phone.js';

/** What a lookup searches by; each is one `kind` of contact_keys. */
export type KeyKind = 'phone' | 'email' | 'name';

export interface SearchKey {
  kind: KeyKind;
  key: string;
}

/** The fields of a contact the keys are made of. */
export interface KeyedFields {
  name: string;
  emails: readonly string[] | null;
  phones: readonly string[] | null;
}

/** The ASCII digits of a value, in order (NFKD turns full-width digits into ASCII ones). */
const digitsOf = (raw: string): string => raw.normalize('NFKD').replace(/\D/g, '');

const E164 = /^\+\d+$/;

/**
 * The keys of one phone value: its E.164 form when it is a valid number in `region` (what the
 * mapping stores, so a number stored as E.164 keys as itself), otherwise its digits, which is how
 * a number kept as given is matched. A number written with the international prefix 00 (`0044 20
 * 7946 0958`), which libphonenumber reads as a national number outside the regions that dial 00,
 * also keys as the E.164 number it names. Digit keys never start with '+', so the two forms never
 * collide.
 */
export function phoneKeys(raw: string, region: CountryCode): string[] {
  const normalized = normalizePhone(raw, region);
  if (normalized === undefined) return [];
  if (E164.test(normalized) && parsePhoneNumberFromString(normalized)?.isValid()) return [normalized];
  const keys = new Set<string>();
  const digits = digitsOf(normalized);
  if (digits !== '') keys.add(digits);
  if (digits.startsWith('00')) {
    const international = parsePhoneNumberFromString(`+${digits.slice(2)}`);
    if (international?.isValid()) keys.add(international.number);
  }
  return [...keys];
}

/** The shortest tail of a caller's number that a number stored without its prefixes is matched by (a local number). */
const MIN_LOCAL_DIGITS = 7;

/**
 * The keys a phone query looks for: those of the number as a stored phone would have them, plus
 * its bare digits, so that a number kept as given (it did not parse) is found by the same digits
 * however it is punctuated, and the tails of those digits down to a local number's length: the
 * caller `+1 212 555 0142` finds the contact whose number was stored as `555-0142`, which is the
 * very contact a caller-ID failure is about; and the digits behind the region's country code.
 */
export function phoneQueryKeys(raw: string, region: CountryCode): string[] {
  const keys = new Set(phoneKeys(raw, region));
  const digits = digitsOf(raw);
  if (digits !== '') keys.add(digits);
  // A number typed without its country code finds one stored with it that is not valid either
  // (`+1 415 026 4408` is kept as given, keyed by its digits, country code included).
  if (digits !== '' && !raw.trim().startsWith('+')) keys.add(`${getCountryCallingCode(region)}${digits}`);
  for (let from = 1; digits.length - from >= MIN_LOCAL_DIGITS; from++) keys.add(digits.slice(from));
  return [...keys];
}

export const emailKey = (email: string): string => email.trim().toLowerCase();

/** Lower case, accents (combining marks) removed, runs of spaces as one: "José  García" → "jose garcia". */
export function nameKey(name: string): string {
  return name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/** Whether a query has something to search by: a digit or a letter. */
export const searchable = (raw: string): boolean => /[\p{L}\p{Nd}]/u.test(raw);

/** Every key of a contact, without repeats. An erased contact (no name, no fields) has none. */
export function contactSearchKeys(c: KeyedFields, region: CountryCode): SearchKey[] {
  const seen = new Set<string>();
  const out: SearchKey[] = [];
  const add = (kind: KeyKind, key: string) => {
    if (key === '' || seen.has(`${kind}\u0000${key}`)) return;
    seen.add(`${kind}\u0000${key}`);
    out.push({ kind, key });
  };
  for (const phone of c.phones ?? []) for (const key of phoneKeys(phone, region)) add('phone', key);
  for (const email of c.emails ?? []) add('email', emailKey(email));
  add('name', nameKey(c.name));
  return out;
}
