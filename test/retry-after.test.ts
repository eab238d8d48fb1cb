import t from 'tap';
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from '../src/crm/retry-after.js';

const now = new Date('2015-10-21T07:28:00.000Z');

t.equal(MAX_RETRY_AFTER_MS, 3_600_000, 'the cap is an hour');

t.test('delay-seconds', async (t) => {
  t.equal(parseRetryAfter('10', now), 10_000);
  t.equal(parseRetryAfter('0', now), 0);
  t.equal(parseRetryAfter('1', now), 1_000);
  t.equal(parseRetryAfter('010', now), 10_000, 'leading zeros are still 1*DIGIT');
  t.equal(parseRetryAfter(' 120\t', now), 120_000, 'optional whitespace around the value');
  t.equal(parseRetryAfter('3600', now), 3_600_000);
  t.equal(parseRetryAfter('3601', now), MAX_RETRY_AFTER_MS, 'capped');
  t.equal(parseRetryAfter('86400', now), MAX_RETRY_AFTER_MS, 'capped');
  t.equal(parseRetryAfter('9'.repeat(400), now), MAX_RETRY_AFTER_MS, 'even past Number.MAX_VALUE');
});

t.test('not delay-seconds: non-integers, signs, units, other notations', async (t) => {
  for (const v of ['1.5', '1.', '.5', '-1', '-0', '+10', '1e3', '0x10', '10s', '10 s', '1 0', '١٠', '１０', 'Infinity', 'NaN']) {
    t.equal(parseRetryAfter(v, now), undefined, JSON.stringify(v));
  }
});

t.test('HTTP-date: IMF-fixdate', async (t) => {
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', now), 0, 'now');
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now), 30_000);
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:58:00 GMT', now), 1_800_000);
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 08:28:00 GMT', now), 3_600_000);
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 08:28:01 GMT', now), MAX_RETRY_AFTER_MS, 'capped');
  t.equal(parseRetryAfter('Thu, 01 Jan 2099 00:00:00 GMT', now), MAX_RETRY_AFTER_MS, 'capped');
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:59 GMT', now), 0, 'past: 0');
  t.equal(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT', now), 0, 'past: 0');
  t.equal(parseRetryAfter('Sat, 01 Jan 0050 00:00:00 GMT', now), 0, 'a year below 100 is not read as 19xx');
  t.equal(parseRetryAfter('  Wed, 21 Oct 2015 07:28:10 GMT ', now), 10_000, 'optional whitespace');
  t.equal(parseRetryAfter('wed, 21 oct 2015 07:28:10 gmt', now), 10_000, 'names in any case');
  t.equal(parseRetryAfter('Mon, 21 Oct 2015 07:28:10 GMT', now), 10_000, 'a wrong week day is not held against it');
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:60 GMT', now), 59_000, 'a leap second is the last of its minute');
  const later = new Date('2015-10-21T07:28:00.250Z');
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', later), 9_750, 'counted from now to the millisecond');
});

t.test('HTTP-date: the obsolete formats', async (t) => {
  t.equal(parseRetryAfter('Wednesday, 21-Oct-15 07:28:20 GMT', now), 20_000, 'rfc850-date');
  t.equal(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now), 0, 'rfc850-date: 94 is 1994');
  t.equal(
    parseRetryAfter('Thursday, 01-Jan-65 00:00:00 GMT', now),
    MAX_RETRY_AFTER_MS,
    'rfc850-date: 65 is 2065, not more than 50 years ahead',
  );
  t.equal(
    parseRetryAfter('Thursday, 01-Jan-66 00:00:00 GMT', now),
    0,
    'rfc850-date: 66 would be more than 50 years ahead, so it is 1966',
  );
  t.equal(parseRetryAfter('Wed Oct 21 07:28:05 2015', now), 5_000, 'asctime-date');
  t.equal(parseRetryAfter('Sun Nov  6 08:49:37 1994', now), 0, 'asctime-date with a space-padded day');
  const nov = new Date('2015-11-06T08:49:00.000Z');
  t.equal(parseRetryAfter('Fri Nov  6 08:49:37 2015', nov), 37_000, 'asctime is GMT, not local time');
});

t.test('not an HTTP-date', async (t) => {
  for (const v of [
    '',
    '   ',
    'soon',
    'Wed, 21 Oct 2015 07:28:10',
    'Wed, 21 Oct 2015 07:28:10 UTC',
    'Wed, 21 Oct 2015 07:28:10 +0000',
    '21 Oct 2015 07:28:10 GMT',
    'Wed, 21 October 2015 07:28:10 GMT',
    'Wed, 1 Oct 2015 07:28:10 GMT',
    'Wed, 21 Oct 15 07:28:10 GMT',
    'Wed, 31 Feb 2015 07:28:10 GMT',
    'Wed, 00 Oct 2015 07:28:10 GMT',
    'Wed, 21 Oct 2015 24:00:00 GMT',
    'Wed, 21 Oct 2015 07:60:00 GMT',
    'Wed, 21 Oct 2015 07:28:61 GMT',
    'Wed, 21 Oct 2015 7:28:10 GMT',
    'Wed, 21 Oct 2015 07:28:10 GMT extra',
    'Wednesday, 21-Oct-2015 07:28:10 GMT',
    'Wed, 21-Oct-15 07:28:10 GMT',
    'Wed Oct 21 07:28:10 2015 GMT',
    '2015-10-21T07:28:10Z',
  ]) {
    t.equal(parseRetryAfter(v, now), undefined, JSON.stringify(v));
  }
});

t.test('missing, and repeated headers', async (t) => {
  t.equal(parseRetryAfter(undefined, now), undefined);
  t.equal(parseRetryAfter([], now), undefined);
  t.equal(parseRetryAfter(['5'], now), 5_000);
  t.equal(parseRetryAfter(['5', '100'], now), 5_000, 'the first one counts');
  t.equal(parseRetryAfter(['Wed, 21 Oct 2015 07:28:07 GMT', '1'], now), 7_000);
  t.equal(parseRetryAfter(['junk', '5'], now), undefined);
});

t.test('an invalid now is a programming error', async (t) => {
  t.throws(() => parseRetryAfter('Wed, 21 Oct 2015 07:28:07 GMT', new Date(NaN)), RangeError);
  t.equal(parseRetryAfter('7', new Date(NaN)), 7_000, 'delay-seconds does not need now');
});
