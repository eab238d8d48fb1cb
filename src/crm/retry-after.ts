/**
 * The longest wait a Retry-After header can impose. The header comes from the CRM or anything
 * between us and it (a proxy, a CDN error page): a wrong clock or a misconfigured proxy can say
 * "come back tomorrow" or "in 10^20 seconds", and a worker that obeyed would sit on its job (and
 * the tenant's sync) indefinitely, or overflow setTimeout (which fires at once above 2^31-1 ms).
 * The CRMs' own limits are per seconds and per day; at worst a capped wait means one more
 * 429 an hour later, which is cheap and bounded, while an uncapped one is not.
 */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const day = DAY_NAMES.join('|');
const longDay = LONG_DAY_NAMES.join('|');
const month = MONTHS.join('|');
const time = '(\\d{2}):(\\d{2}):(\\d{2})';

// RFC 9110 §5.6.7: senders use IMF-fixdate; recipients also accept the two obsolete formats.
// Names are matched case-insensitively (harmless leniency); the week day is not checked against the date.
/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(`^(?:${day}), (\\d{2}) (${month}) (\\d{4}) ${time} GMT$`, 'i');
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC850_DATE = new RegExp(`^(?:${longDay}), (\\d{2})-(${month})-(\\d{2}) ${time} GMT$`, 'i');
/** `Sun Nov  6 08:49:37 1994` (a one-digit day is padded with a space) */
const ASCTIME_DATE = new RegExp(`^(?:${day}) (${month}) ((?:\\d| )\\d) ${time} (\\d{4})$`, 'i');

/** RFC 9110 §10.2.3: `delay-seconds = 1*DIGIT`, a non-negative integer (no sign, no fraction). */
const DELAY_SECONDS = /^\d+$/;

/**
 * How long a Retry-After header asks us to wait, in milliseconds: delay-seconds (`"10"`) or an
 * HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`, counted from `now`; 0 when it is past), at most
 * MAX_RETRY_AFTER_MS. Undefined when the header is missing or is neither form (`"1.5"`, `"-1"`,
 * `"soon"`): the caller then falls back to its own backoff.
 *
 * A header sent more than once arrives as an array; Retry-After is a single value, so only the
 * first one counts.
 */
export function parseRetryAfter(header: string | string[] | undefined, now: Date): number | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined) return undefined;
  const value = raw.replace(/^[ \t]+|[ \t]+$/g, ''); // optional whitespace around a field value
  if (DELAY_SECONDS.test(value)) return Math.min(Number(value) * 1000, MAX_RETRY_AFTER_MS);

  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw new RangeError('parseRetryAfter: now is an invalid Date');
  const at = parseHttpDate(value, now);
  if (at === undefined) return undefined;
  return Math.min(Math.max(at - nowMs, 0), MAX_RETRY_AFTER_MS);
}

/** An HTTP-date in any of its three formats → epoch milliseconds; undefined when it is not one. */
function parseHttpDate(value: string, now: Date): number | undefined {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utc(Number(m[3]), m[2], m[1], m[4], m[5], m[6]);

  m = RFC850_DATE.exec(value);
  if (m) return utc(fourDigitYear(Number(m[3]), now), m[2], m[1], m[4], m[5], m[6]);

  m = ASCTIME_DATE.exec(value);
  if (m) return utc(Number(m[6]), m[1], m[2], m[3], m[4], m[5]);
  return undefined;
}

/**
 * RFC 9110 §5.6.7: a two-digit year "that appears to be more than 50 years in the future" is the
 * most recent past year with the same last two digits.
 */
function fourDigitYear(twoDigits: number, now: Date): number {
  const currentYear = now.getUTCFullYear();
  let year = currentYear - (currentYear % 100) + twoDigits;
  if (year > currentYear + 50) year -= 100;
  return year;
}

function utc(
  year: number,
  monthName: string | undefined,
  dayText: string | undefined,
  hourText: string | undefined,
  minuteText: string | undefined,
  secondText: string | undefined,
): number | undefined {
  const monthIndex = MONTHS.findIndex((m) => m.toLowerCase() === monthName?.toLowerCase());
  const dayOfMonth = Number(dayText?.trim());
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = Number(secondText);
  // second 60 is a leap second (RFC 5322 allows it); read it as the last second of the minute.
  if (monthIndex < 0 || hour > 23 || minute > 59 || second > 60) return undefined;
  // setUTCFullYear, not Date.UTC, which reads the years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, dayOfMonth);
  date.setUTCHours(hour, minute, Math.min(second, 59), 0);
  // A day the month does not have (31 Feb) rolls over into the next month: not a date.
  if (date.getUTCMonth() !== monthIndex || date.getUTCDate() !== dayOfMonth) return undefined;
  return date.getTime();
}
