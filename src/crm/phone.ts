import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

// Any decimal digit, not only ASCII: libphonenumber reads Arabic-Indic, full-width, … digits too.
const HAS_DIGIT = /\p{Nd}/u;

/**
 * One phone value as a CRM holds it → the form the mirror stores:
 * - E.164 (`+14155550132`, any extension dropped) when it parses as a valid number, numbers
 *   without a country prefix being read in `defaultRegion`;
 * - the value as given (trimmed) when it has digits but is not a valid number (`555`, `0044 …`
 *   read in the US): a human can still make sense of it, so it is not thrown away;
 * - undefined when it has no digit at all (`n/a`, `-`, blank).
 *
 * Uses the `max` metadata, so validity is checked against the number ranges of the region,
 * not only the number's length.
 */
export function normalizePhone(raw: string, defaultRegion: CountryCode): string | undefined {
  const given = raw.trim();
  if (!HAS_DIGIT.test(given)) return undefined;
  const parsed = parsePhoneNumberFromString(given, defaultRegion);
  return parsed?.isValid() ? parsed.number : given;
}
