import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import type { CountryCode } from 'libphonenumber-js/max';
import { ContactSchema, normalizeContact, type Contact } from '../src/mirror/contact.js';
import {
  HUBSPOT_CONTACT_PROPERTIES,
  HubSpotMappingError,
  mapHubSpotContact,
  type HubSpotContactRecord,
} from '../src/crm/hubspot/mapping.js';
import { normalizePhone } from '../src/crm/phone.js';

type Props = HubSpotContactRecord['properties'];

const US = { portalId: 4567, defaultRegion: 'US' as CountryCode };
const url = (id: string, portal: string | number = 4567) => `https://app.hubspot.com/contacts/${portal}/record/0-1/${id}`;

/** Maps, and checks what must hold of every mapped contact: the schema, and no undefined-valued key. */
function map(properties: Props, id = '101', options: { portalId: string | number; defaultRegion: CountryCode } = US): Contact {
  const c = mapHubSpotContact({ id, properties }, options);
  if (!Value.Check(ContactSchema, c)) {
    const errors = [...Value.Errors(ContactSchema, c)].map((e) => `${e.path}: ${e.message}`);
    throw new Error(`mapped contact fails ContactSchema: ${errors.join('; ')}`);
  }
  for (const [k, v] of Object.entries(c)) {
    if (v === undefined) throw new Error(`mapped contact has an undefined-valued key ${k}`);
  }
  return c;
}

t.test('a complete, tidy record maps field by field', async (t) => {
  t.strictSame(
    map({
      firstname: 'Ada',
      lastname: 'Lovelace',
      company: 'Analytical Engines Ltd',
      jobtitle: 'Mathematician',
      email: 'ada@example.com',
      hs_additional_emails: 'ada.l@example.org',
      phone: '(415) 555-0132',
      mobilephone: '+44 7911 123456',
      address: '12 St James Square',
      city: 'London',
      state: 'Greater London',
      zip: 'SW1Y 4JH',
      country: 'United Kingdom',
      website: 'https://example.com/ada',
      twitterhandle: '@ada',
      lastmodifieddate: '2024-05-01T10:00:00.000Z',
      hs_object_id: '101',
    }),
    {
      id: '101',
      name: 'Ada Lovelace',
      company: 'Analytical Engines Ltd',
      title: 'Mathematician',
      emails: ['ada@example.com', 'ada.l@example.org'],
      phones: ['+14155550132', '+447911123456'],
      address: '12 St James Square, London, Greater London, SW1Y 4JH, United Kingdom',
      websites: ['https://example.com/ada'],
      twitter: 'ada',
      url: url('101'),
    },
  );
});

t.test('nulls, empty strings, whitespace-only and missing properties are all absent', async (t) => {
  const expected = { id: '7', name: 'HubSpot contact 7', url: url('7') };
  t.strictSame(map({}, '7'), expected);
  t.strictSame(
    map(
      {
        firstname: null,
        lastname: '',
        company: '   ',
        jobtitle: '\t\n',
        email: ' ',
        hs_additional_emails: ' ; ;; ',
        phone: '',
        mobilephone: null,
        address: undefined,
        city: '\u00a0',
        state: '',
        zip: null,
        country: ' ',
        website: '',
        twitterhandle: '  ',
      },
      '7',
    ),
    expected,
  );
  // Only the keys that have something to say; not even an undefined-valued one.
  t.strictSame(Object.keys(map({}, '7')).sort(), ['id', 'name', 'url']);
});

t.test('every value is trimmed', async (t) => {
  t.strictSame(
    map({
      firstname: '  Grace ',
      lastname: '\tHopper\n',
      company: ' Navy ',
      jobtitle: ' Rear Admiral ',
      website: '  https://example.com  ',
    }),
    {
      id: '101',
      name: 'Grace Hopper',
      company: 'Navy',
      title: 'Rear Admiral',
      websites: ['https://example.com'],
      url: url('101'),
    },
  );
});

t.test('emails: email then hs_additional_emails, trimmed, de-duplicated case-insensitively, first spelling kept', async (t) => {
  t.strictSame(map({ email: 'A@x.com', hs_additional_emails: 'A@x.com;a@X.com; b@y.com ;;' }).emails, ['A@x.com', 'b@y.com']);
  t.strictSame(map({ email: ' a@X.com ', hs_additional_emails: 'A@x.com' }).emails, ['a@X.com'], 'no lower-casing');
  t.strictSame(map({ hs_additional_emails: ';;C@z.com;; c@Z.COM ; d@z.com' }).emails, ['C@z.com', 'd@z.com']);
  t.strictSame(map({ email: '  ', hs_additional_emails: 'only@x.com' }).emails, ['only@x.com']);
  t.strictSame(map({ email: 'first@x.com', hs_additional_emails: ';  ;' }).emails, ['first@x.com']);
  t.notOk('emails' in map({ email: null, hs_additional_emails: ';;' }));
});

t.test('phones: E.164 when valid, as given when digits but invalid, dropped without digits, de-duplicated', async (t) => {
  const phones = (phone: string | null, mobilephone: string | null = null, region: CountryCode = 'US') =>
    map({ phone, mobilephone }, '101', { portalId: 1, defaultRegion: region }).phones;

  t.strictSame(phones('(415) 555-0132'), ['+14155550132']);
  t.strictSame(phones('415.555.0132 ext 12'), ['+14155550132'], 'the extension is dropped');
  t.strictSame(phones('+44 20 7946 0958'), ['+442079460958'], 'an explicit country code beats the default region');
  t.strictSame(phones('0044 20 7946 0958'), ['0044 20 7946 0958'], 'not a valid number read from the US: kept as given');
  t.strictSame(phones('011 44 20 7946 0958'), ['+442079460958'], 'the US international prefix is understood');
  t.strictSame(phones('555'), ['555'], 'digits, invalid: kept');
  t.strictSame(phones('  555-0132  '), ['555-0132'], 'kept as given, trimmed');
  t.equal(phones('n/a'), undefined, 'no digit: dropped');
  t.equal(phones('n/a', ' - '), undefined);
  t.strictSame(phones('n/a', '555'), ['555']);
  t.strictSame(phones('(415) 555-0132', '+1 415.555.0132'), ['+14155550132'], 'the same number in two formats');
  t.strictSame(phones('415 555 0132', '(650) 253-0000'), ['+14155550132', '+16502530000'], 'order kept');
  t.strictSame(phones('555', ' 555 '), ['555'], 'invalid ones are de-duplicated too');
  t.strictSame(phones('٤١٥ ٥٥٥ ٠١٣٢'), ['+14155550132'], 'non-ASCII digits');

  // A non-US default region.
  t.strictSame(phones('020 7946 0958', null, 'GB'), ['+442079460958']);
  t.strictSame(phones('020 7946 0958', '+44 20 7946 0958', 'GB'), ['+442079460958']);
  t.strictSame(phones('0044 20 7946 0958', null, 'GB'), ['+442079460958'], '00 is the UK international prefix');
  t.strictSame(phones('(415) 555-0132', null, 'GB'), ['(415) 555-0132'], 'a US national number read in GB is not valid');
  t.strictSame(phones('+1 (415) 555-0132', '07911 123456', 'GB'), ['+14155550132', '+447911123456']);
  t.strictSame(phones('020 7946 0958', null, 'US'), ['020 7946 0958'], 'a UK national number read in the US: kept');
});

t.test('normalizePhone on its own', async (t) => {
  t.equal(normalizePhone(' (415) 555-0132 ', 'US'), '+14155550132');
  t.equal(normalizePhone('650 253 0000 x12', 'US'), '+16502530000');
  t.equal(normalizePhone(' 555 ', 'US'), '555');
  t.equal(normalizePhone('n/a', 'US'), undefined);
  t.equal(normalizePhone('', 'US'), undefined);
  t.equal(normalizePhone('   ', 'US'), undefined);
});

t.test('name: first + last, then first email, first phone, company, "HubSpot contact <id>"', async (t) => {
  const all: Props = {
    firstname: 'Jane',
    lastname: 'Doe',
    email: 'jane@x.com',
    hs_additional_emails: 'j@y.com',
    phone: '(415) 555-0132',
    company: 'Acme',
  };
  t.equal(map(all).name, 'Jane Doe');
  t.equal(map({ ...all, lastname: ' ' }).name, 'Jane');
  t.equal(map({ ...all, firstname: null }).name, 'Doe');
  t.equal(map({ ...all, firstname: ' Mary  Ann ', lastname: null }).name, 'Mary  Ann', 'inner spacing left alone');
  t.equal(map({ ...all, firstname: ' ', lastname: '' }).name, 'jane@x.com');
  t.equal(
    map({ ...all, firstname: null, lastname: null, email: 'J@y.com' }).name,
    'J@y.com',
    'the first email of the final list',
  );
  t.equal(map({ ...all, firstname: null, lastname: null, email: ' ' }).name, 'j@y.com', 'from hs_additional_emails');
  t.equal(
    map({ ...all, firstname: null, lastname: null, email: null, hs_additional_emails: ' ; ' }).name,
    '+14155550132',
    'the first phone, normalized',
  );
  t.equal(
    map({ company: 'Acme', phone: 'n/a', mobilephone: '555' }).name,
    '555',
    'the first phone of the final list (n/a dropped, invalid kept)',
  );
  t.equal(map({ company: '  Acme  ', phone: 'n/a' }).name, 'Acme');
  t.equal(map({ company: ' ', phone: 'n/a', twitterhandle: '@x', jobtitle: 'CEO' }, '999').name, 'HubSpot contact 999');
});

t.test('unicode names survive untouched', async (t) => {
  t.strictSame(map({ firstname: '  Zoë ', lastname: 'Ångström-Łukasiewicz' }).name, 'Zoë Ångström-Łukasiewicz');
  t.strictSame(map({ firstname: '李', lastname: '小龍' }).name, '李 小龍');
  t.strictSame(map({ firstname: 'محمد', lastname: 'علي' }).name, 'محمد علي');
  t.strictSame(map({ firstname: '👩🏽‍💻', lastname: null }).name, '👩🏽‍💻');
  t.strictSame(map({ firstname: 'e\u0301' }).name, 'e\u0301', 'no Unicode normalization');
});

t.test('twitter: leading @s removed, absent when nothing remains', async (t) => {
  t.equal(map({ twitterhandle: '@handle' }).twitter, 'handle');
  t.equal(map({ twitterhandle: '@@handle' }).twitter, 'handle');
  t.equal(map({ twitterhandle: ' @jane ' }).twitter, 'jane');
  t.equal(map({ twitterhandle: 'jane' }).twitter, 'jane');
  t.equal(map({ twitterhandle: 'a@b' }).twitter, 'a@b', 'only leading ones');
  t.notOk('twitter' in map({ twitterhandle: '@' }));
  t.notOk('twitter' in map({ twitterhandle: ' @@ ' }));
  t.notOk('twitter' in map({ twitterhandle: '@ ' }));
});

t.test('address: the non-empty parts joined with ", "', async (t) => {
  t.equal(
    map({ address: ' 1 Main St ', city: '  ', state: null, zip: '94105', country: 'US' }).address,
    '1 Main St, 94105, US',
  );
  t.equal(map({ city: 'Lisboa' }).address, 'Lisboa');
  t.equal(map({ state: 'CA', country: ' United States ' }).address, 'CA, United States');
  t.notOk('address' in map({ address: ' ', city: '', state: null, zip: '\t', country: undefined }));
});

t.test('websites and url', async (t) => {
  t.strictSame(map({ website: 'example.com' }).websites, ['example.com']);
  t.notOk('websites' in map({ website: '   ' }));
  t.equal(map({}, '42', { portalId: '12345', defaultRegion: 'US' }).url, url('42', '12345'));
  t.equal(map({}, '42', { portalId: 12345, defaultRegion: 'US' }).url, url('42', '12345'));
});

t.test('values are fitted to ContactSchema', async (t) => {
  const long = 'x'.repeat(5000);

  const c = map({ company: long, jobtitle: long, website: long, twitterhandle: long, firstname: long, lastname: long });
  t.equal(c.company, 'x'.repeat(2048));
  t.equal(c.title, 'x'.repeat(2048));
  t.equal(c.name, 'x'.repeat(2048));
  t.strictSame(c.websites, ['x'.repeat(2048)]);
  t.equal(c.twitter, 'x'.repeat(2048));

  t.equal(map({ address: long, city: 'Oslo' }).address, 'x'.repeat(4096));

  // A cut never splits a surrogate pair, and never leaves a trailing blank.
  const emoji = map({ company: 'x'.repeat(2047) + '😀' + 'tail' }).company;
  t.equal(emoji, 'x'.repeat(2047));
  t.equal(map({ company: 'x'.repeat(2046) + '  more' }).company, 'x'.repeat(2046));

  // Emails: each item cut, at most 100 of them.
  const many = Array.from({ length: 150 }, (_, i) => `u${i}@x.com`).join(';');
  const emails = map({ email: 'first@x.com', hs_additional_emails: many }).emails ?? [];
  t.equal(emails.length, 100);
  t.equal(emails[0], 'first@x.com');
  t.equal(emails[99], 'u98@x.com');
  t.strictSame(map({ email: `${long}@x.com` }).emails, ['x'.repeat(2048)]);

  // Kept-as-given phones are cut too (libphonenumber gives up on very long input).
  t.strictSame(map({ phone: '1'.repeat(3000) }).phones, ['1'.repeat(2048)]);
});

t.test('NUL characters never get through', async (t) => {
  t.strictSame(
    map({
      firstname: 'Al\u0000ice',
      lastname: '\u0000',
      company: '\u0000 Acme\u0000 ',
      email: 'a\u0000@x.com',
      hs_additional_emails: '\u0000;b@x.com\u0000',
      phone: '\u0000415 555 0132',
      mobilephone: '55\u00005',
      address: '\u0000',
      city: 'Ro\u0000me',
      twitterhandle: '@\u0000',
      website: '\u0000',
    }),
    {
      id: '101',
      name: 'Alice',
      company: 'Acme',
      emails: ['a@x.com', 'b@x.com'],
      phones: ['+14155550132', '555'],
      address: 'Rome',
      url: url('101'),
    },
  );
});

t.test('an unusable record id or portal id is refused, not patched', async (t) => {
  t.throws(() => mapHubSpotContact({ id: '', properties: {} }, US), HubSpotMappingError);
  t.throws(() => mapHubSpotContact({ id: '   ', properties: {} }, US), HubSpotMappingError);
  t.throws(() => mapHubSpotContact({ id: '1\u00002', properties: {} }, US), HubSpotMappingError);
  t.throws(() => mapHubSpotContact({ id: '9'.repeat(513), properties: {} }, US), HubSpotMappingError);
  t.throws(() => mapHubSpotContact({ id: '1', properties: {} }, { portalId: ' ', defaultRegion: 'US' }), HubSpotMappingError);
  t.equal(map({}, '9'.repeat(512)).id, '9'.repeat(512));
  t.equal(map({}, ' 55 ').id, '55', 'trimmed like every value');
});

t.test('HUBSPOT_CONTACT_PROPERTIES is exactly what the mapping reads, plus lastmodifieddate and hs_object_id', async (t) => {
  const read = new Set<string>();
  const properties = new Proxy({} as Props, {
    get(_target, key) {
      if (typeof key === 'string') read.add(key);
      return 'value 1';
    },
  });
  mapHubSpotContact({ id: '1', properties }, US);
  const listed = new Set<string>(HUBSPOT_CONTACT_PROPERTIES);
  t.strictSame([...read].filter((k) => !listed.has(k)), [], 'nothing read that is not requested');
  t.strictSame(
    [...listed].filter((k) => !read.has(k)).sort(),
    ['hs_object_id', 'lastmodifieddate'],
    'nothing requested that is not read, but the two the sync needs',
  );
  t.equal(listed.size, HUBSPOT_CONTACT_PROPERTIES.length, 'no duplicates');
});

// Property-style checks over generated ugly records (a seeded generator: failures reproduce).
t.test('generated records: schema-valid, already in stored form, lists de-duplicated, deterministic', async (t) => {
  let seed = 0x2545f491;
  const rand = (n: number): number => {
    // xorshift32
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)] as T;
  const fragments = [
    '', ' ', '\t', '\n', '\u00a0', '\u0000', '@', ';', ',', 'a', 'B', 'é', 'Ł', '李', '😀', '\ud83d',
    'x@y.com', 'X@Y.COM', 'n/a', '555', '(415) 555-0132', '+44 20 7946 0958', '0044', 'ext 9', '+', '-',
    'x'.repeat(700),
  ];
  const text = (): string | null | undefined => {
    const r = rand(10);
    if (r === 0) return null;
    if (r === 1) return undefined;
    return Array.from({ length: rand(6) }, () => pick(fragments)).join('');
  };
  const regions = ['US', 'GB', 'DE', 'BR', 'IN', 'JP'] as CountryCode[];

  for (let i = 0; i < 1500; i++) {
    const properties: Props = {};
    for (const key of HUBSPOT_CONTACT_PROPERTIES) {
      const v = text();
      if (v !== undefined || rand(2) === 0) properties[key] = v;
    }
    if (rand(4) === 0) properties.hs_additional_emails = Array.from({ length: rand(200) }, () => pick(fragments)).join(';');
    const id = String(1 + rand(1_000_000));
    const options = { portalId: rand(2) ? 99 : '99', defaultRegion: pick(regions) };
    const where = `case ${i}: ${JSON.stringify({ id, properties, options })}`.slice(0, 2000);

    const c = map(properties, id, options); // checks the schema and undefined-valued keys
    if (i === 0) t.pass('first generated record mapped');
    const again = mapHubSpotContact({ id, properties: { ...properties } }, options);
    if (!isDeepStrictEqual(again, c)) t.fail(`not deterministic: ${where}`);
    if (!isDeepStrictEqual(normalizeContact(c), c)) t.fail(`not in stored form: ${where}`);
    for (const [k, v] of Object.entries(c)) {
      if (v === '' || (Array.isArray(v) && v.length === 0)) t.fail(`empty ${k}: ${where}`);
      for (const s of Array.isArray(v) ? v : [v]) {
        if (typeof s === 'string' && (s !== s.trim() || s.includes('\u0000'))) t.fail(`untidy ${k}: ${where}`);
      }
    }
    const lowered = (c.emails ?? []).map((e) => e.toLowerCase());
    if (new Set(lowered).size !== lowered.length) t.fail(`duplicate emails: ${where}`);
    if (new Set(c.phones ?? []).size !== (c.phones ?? []).length) t.fail(`duplicate phones: ${where}`);
    if (c.twitter?.startsWith('@')) t.fail(`twitter starts with @: ${where}`);
    for (const p of c.phones ?? []) if (!/\p{Nd}/u.test(p)) t.fail(`phone without a digit: ${where}`);
    if (c.url !== url(id, 99)) t.fail(`url: ${where}`);
  }
  t.pass('1500 generated records checked');
});

t.test('an unpaired surrogate becomes U+FFFD; a paired one is kept', async (t) => {
  const c = map({ firstname: 'Zo\uD800e', lastname: '😀 \uDC00', company: 'A\uDBFF', jobtitle: 'B\uD83D\uDE00C' });
  t.equal(c.name, 'Zo\uFFFDe 😀 \uFFFD');
  t.equal(c.company, 'A\uFFFD');
  t.equal(c.title, 'B😀C');
});
