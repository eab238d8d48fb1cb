import type { Contact } from '../../src/mirror/contact.js';
import { Prng } from '../hubspot-sim/prng.js';

/**
 * Contacts as large as a real CRM's well-kept records: a name, 1–3 emails and phones, an address,
 * company, title and url, so that the benchmarks move realistic bytes (about 400 bytes of JSON
 * each). Deterministic for (seed, index): a rewrite of contact i with the same seed and version is
 * byte-for-byte what was written, which is what the "unchanged" phase needs.
 */

const FIRST = ['James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'Wei', 'Priya', 'Ahmed', 'Fatima', 'Hiroshi', 'Zoë', 'José', 'Anaïs', 'Oluwaseun', 'Sven'];
const LAST = ['Smith', 'Johnson', 'Garcia', 'Miller', 'Davis', 'Rodriguez', "O'Brien", 'Müller', 'Dubois', 'Rossi', 'Kowalski', 'Nakamura', 'Patel', 'Kim', 'van der Berg'];
const COMPANIES = ['Acme Corp', 'Globex', 'Initech', 'Umbrella Inc.', 'Hooli', 'Stark Industries', 'Wayne Enterprises', 'Cyberdyne Systems', 'Vandelay Industries', 'Dunder Mifflin'];
const TITLES = ['CEO', 'VP of Sales', 'Account Executive', 'Customer Success Manager', 'Head of Support', 'Software Engineer', 'Director of Operations'];
const STREETS = ['Main St', 'Oak Ave', 'Market St', 'Broadway', 'Sunset Blvd', 'High Street', 'Hauptstraße'];
const CITIES = ['San Francisco, CA 94107, United States', 'New York, NY 10001, United States', 'London EC1A 1BB, United Kingdom', 'Berlin 10115, Germany', 'Lisbon 1100-148, Portugal'];

/** Contact number `index` of a benchmark tenant; `version` > 0 gives the same contact, edited. */
export function benchContact(index: number, version = 0, seed = 1): Contact {
  const r = new Prng(seed * 1_000_003 + index);
  const first = r.pick(FIRST);
  const last = r.pick(LAST);
  const company = r.pick(COMPANIES);
  const domain = company.toLowerCase().replace(/[^a-z]/g, '') + '.example';
  const handle = `${first}.${last}`.toLowerCase().replace(/[^a-z.]/g, '');
  const emails = Array.from({ length: r.int(1, 3) }, (_, k) => `${handle}${k === 0 ? '' : k}${index}@${k === 0 ? domain : 'mail.example.com'}`);
  const phones = Array.from({ length: r.int(1, 3) }, () => `+1415${String(r.int(0, 9_999_999)).padStart(7, '0')}`);
  return {
    id: String(100_000_000 + index),
    name: version === 0 ? `${first} ${last}` : `${first} ${last} (v${version})`,
    company,
    title: r.pick(TITLES),
    emails,
    phones,
    address: `${r.int(1, 9999)} ${r.pick(STREETS)}, ${r.pick(CITIES)}`,
    url: `https://crm.example.com/contacts/${100_000_000 + index}`,
  };
}
