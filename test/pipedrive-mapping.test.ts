import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import type { CountryCode } from 'libphonenumber-js/max';
import { ContactSchema, normalizeContact, type Contact } from '../src/mirror/contact.js';
import { mapPipedrivePerson, PipedriveMappingError, type MapPipedrivePersonOptions, type PipedrivePerson } from '../src/crm/pipedrive/mapping.js';

const US: MapPipedrivePersonOptions = { companyDomain: 'acme', orgName: undefined, defaultRegion: 'US' as CountryCode };
const url = (id: number | string) => `https://acme.pipedrive.com/person/${id}`;

/** Maps, and checks what must hold of every mapped contact: the schema, the stored form, no undefined-valued key. */
function map(person: Omit<PipedrivePerson, 'id'> & { id?: PipedrivePerson['id'] }, options: Partial<MapPipedrivePersonOptions> = {}): Contact {
  const c = mapPipedrivePerson({ id: 7, ...person }, { ...US, ...options });
  if (!Value.Check(ContactSchema, c)) {
    throw new Error(`mapped contact fails ContactSchema: ${[...Value.Errors(ContactSchema, c)].map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  }
  for (const [k, v] of Object.entries(c)) if (v === undefined) throw new Error(`undefined-valued key ${k}`);
  if (!isDeepStrictEqual(normalizeContact(c), c)) throw new Error('not in the stored form');
  return c;
}

t.test('a complete, tidy person maps field by field', async (t) => {
  t.strictSame(
    map(
      {
        id: 42,
        name: 'Ada Lovelace',
        emails: [
          { value: 'ada@example.org', primary: false, label: 'home' },
          { value: 'ada@example.com', primary: true, label: 'work' },
        ],
        phones: [{ value: '(415) 555-0132', primary: true, label: 'work' }],
        org_id: 3,
        job_title: 'Mathematician',
        postal_address: { value: '12 St James’s Square, London' },
        picture_id: { pictures: { '128': 'https://pics.example/128.jpg', '512': 'https://pics.example/512.jpg' } },
      },
      { orgName: 'Analytical Engines Ltd' },
    ),
    {
      id: '42',
      name: 'Ada Lovelace',
      company: 'Analytical Engines Ltd',
      title: 'Mathematician',
      emails: ['ada@example.com', 'ada@example.org'],
      phones: ['+14155550132'],
      photo_url: 'https://pics.example/512.jpg',
      address: '12 St James’s Square, London',
      url: url(42),
    },
  );
});

t.test('the name is trimmed, and falls back to the first email, phone, company, then "Pipedrive person <id>"', async (t) => {
  t.equal(map({ name: '  Grace Hopper \t' }).name, 'Grace Hopper');
  t.equal(map({ name: '   ', emails: [{ value: ' b@x.example ' }, { value: 'a@x.example', primary: true }] }).name, 'a@x.example', 'the primary email');
  t.equal(map({ name: null, phones: [{ value: 'n/a' }, { value: '415.555.0100' }] }).name, '+14155550100', 'the first phone that survives, normalized');
  t.equal(map({ name: '', emails: [{ value: '  ' }] }, { orgName: ' Globex ' }).name, 'Globex');
  t.equal(map({ id: 9 }).name, 'Pipedrive person 9');
  t.equal(map({ id: 9, name: '\u0000' }).name, 'Pipedrive person 9', 'a NUL alone is no name');
});

t.test('emails: primary first, then the API order, trimmed, de-duplicated case-insensitively keeping the first spelling', async (t) => {
  t.strictSame(
    map({
      emails: [
        { value: ' Sam@Example.com ', primary: false },
        { value: 'other@example.com', primary: true },
        { value: 'sam@example.COM' },
        { value: '' },
        { value: null },
        { primary: true },
        { value: 'OTHER@example.com', primary: true },
        { value: 'third@example.com' },
      ],
    }).emails,
    ['other@example.com', 'Sam@Example.com', 'third@example.com'],
  );
  t.notOk('emails' in map({ emails: [{ value: ' ' }] }), 'nothing left: no emails field');
  t.notOk('emails' in map({ emails: null }), 'null list');
  t.notOk('emails' in map({ emails: 'a@b.example' as unknown as [] }), 'not a list');
});

t.test('phones: primary first, normalized as for HubSpot, kept when they do not parse, dropped without digits, de-duplicated', async (t) => {
  t.strictSame(
    map({
      phones: [
        { value: '555-0101 ext. 7', primary: false },
        { value: '+44 20 7946 0958', primary: true },
        { value: '(415) 555-0132' },
        { value: '415.555.0132' },
        { value: 'N/A' },
        { value: ' - ' },
        { value: '+1 415 555 0132' },
        { value: '12' },
      ],
    }).phones,
    ['+442079460958', '555-0101 ext. 7', '+14155550132', '12'],
  );
  t.strictSame(map({ phones: [{ value: '030 123456' }] }, { defaultRegion: 'DE' as CountryCode }).phones, ['+4930123456'], 'read in DEFAULT_PHONE_REGION');
  t.notOk('phones' in map({ phones: [{ value: 'none' }] }));
});

t.test('company is the organization name; title the job title; empty values are left out', async (t) => {
  const c = map({ name: 'X', org_id: 5, job_title: '   ', postal_address: { value: ' ' } }, { orgName: '  ' });
  t.strictSame(c, { id: '7', name: 'X', url: url(7) });
  t.equal(map({ name: 'X', job_title: '\tCTO ' }).title, 'CTO');
});

t.test('the address is postal_address.value, or its parts joined as for HubSpot', async (t) => {
  t.equal(map({ name: 'X', postal_address: { value: ' 1 Main St, Springfield ', locality: 'ignored' } }).address, '1 Main St, Springfield');
  t.equal(
    map({
      name: 'X',
      postal_address: { value: null, street_number: '221B', route: 'Baker Street', subpremise: 'Flat 2', locality: 'London', admin_area_level_1: '', postal_code: 'NW1 6XE', country: ' United Kingdom ' },
    }).address,
    '221B Baker Street, Flat 2, London, NW1 6XE, United Kingdom',
  );
  t.equal(map({ name: 'X', postal_address: { route: 'Hauptstraße', locality: 'Berlin' } }).address, 'Hauptstraße, Berlin');
  t.notOk('address' in map({ name: 'X', postal_address: {} }));
});

t.test('photo_url only when the list carries a picture URL; a bare picture id makes no extra call and no photo', async (t) => {
  t.notOk('photo_url' in map({ name: 'X', picture_id: 123 }));
  t.equal(map({ name: 'X', picture_id: { pictures: { '128': ' https://pics.example/s.png ' } } }).photo_url, 'https://pics.example/s.png');
  t.notOk('photo_url' in map({ name: 'X', picture_id: { pictures: { '512': 'javascript:alert(1)' } } }), 'not an http(s) URL');
  t.notOk('photo_url' in map({ name: 'X', picture_id: { pictures: null } }));
});

t.test('the url is the person in the company’s Pipedrive; none without a usable company domain', async (t) => {
  t.equal(map({ id: 12, name: 'X' }, { companyDomain: 'Acme-Corp' }).url, 'https://acme-corp.pipedrive.com/person/12');
  t.notOk('url' in map({ name: 'X' }, { companyDomain: undefined }));
  t.notOk('url' in map({ name: 'X' }, { companyDomain: 'evil.example/x?' }));
});

t.test('ugly text is stored safely: NULs dropped, lone surrogates replaced, long values cut to the schema', async (t) => {
  const c = map({
    name: `Bad\u0000 Name \ud800`,
    emails: Array.from({ length: 150 }, (_, i) => ({ value: `p${i}@example.com` })),
    job_title: 'x'.repeat(5000),
  });
  t.equal(c.name, 'Bad Name \ufffd');
  t.equal(c.emails?.length, 100, 'at most 100 items');
  t.equal(c.title?.length, 2048);
});

t.test('a person whose id cannot be stored is refused', async (t) => {
  t.throws(() => mapPipedrivePerson({ id: '' }, US), PipedriveMappingError);
  t.throws(() => mapPipedrivePerson({ id: 1.5 }, US), PipedriveMappingError);
  t.throws(() => mapPipedrivePerson({ id: 'x'.repeat(600) }, US), PipedriveMappingError);
  t.equal(mapPipedrivePerson({ id: ' 77 ' }, US).id, '77');
});
