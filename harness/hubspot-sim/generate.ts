import type { PropertyInput } from './contact.js';
import { Prng } from './prng.js';
import type { SeedEntry } from './store.js';

/**
 * Contacts that look like a real portal's: gaps, stray whitespace, phone numbers in every notation
 * people type, "n/a", emails that differ only in case, extra emails joined with ";". The mirror's
 * normalisation has to cope with all of these, so the demo data must contain them.
 * Deterministic for a seed.
 */

const FIRST = ['James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth', 'William', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Carlos', 'Karen', 'Wei', 'Priya', 'Ahmed', 'Fatima', 'Hiroshi', 'Yuki', 'Olga', 'Sven', 'Zoë', 'José', 'Anaïs', 'Chloé', "D'Angelo", 'Mary-Kate', 'Nguyen', 'Oluwaseun'] as const;
const LAST = ['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', "O'Brien", 'Müller', 'Schmidt', 'Dubois', 'Rossi', 'Kowalski', 'Nakamura', 'Patel', 'Kim', 'van der Berg', 'García-Márquez'] as const;
const COMPANIES = ['Acme Corp', 'Globex', 'Initech', 'Umbrella Inc.', 'Hooli', 'Stark Industries', 'Wayne Enterprises', 'Wonka Industries', 'Cyberdyne Systems', 'Soylent Corp', 'Tyrell Corporation', 'Vandelay Industries', 'Pied Piper', 'Dunder Mifflin', 'Prestige Worldwide', 'Massive Dynamic', 'Oscorp', 'Gringotts', 'Bluth Company', 'Sterling Cooper', 'Los Pollos Hermanos', 'Aperture Science', 'Black Mesa', 'Monsters, Inc.'] as const;
const TITLES = ['CEO', 'CTO', 'VP of Sales', 'Account Executive', 'Sales Development Rep', 'Marketing Manager', 'Customer Success Manager', 'Head of Support', 'Software Engineer', 'Office Manager', 'Procurement Lead', 'Director of Operations', 'Founder', 'Intern', 'Consultant'] as const;
const STREETS = ['Main St', 'Oak Ave', 'Maple Dr', 'Market St', 'Broadway', 'Elm St', '2nd Ave', 'Sunset Blvd', 'Mission St', 'Park Lane', 'High Street', 'Hauptstraße'] as const;
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'acme.example', 'globex.example', 'initech.example'] as const;

interface Place {
  city: string;
  state: string | null;
  zipPrefix: string;
  countries: readonly string[];
}

const PLACES: readonly Place[] = [
  { city: 'San Francisco', state: 'CA', zipPrefix: '941', countries: ['United States', 'USA', 'US'] },
  { city: 'New York', state: 'NY', zipPrefix: '100', countries: ['United States', 'USA', 'United States of America'] },
  { city: 'Austin', state: 'TX', zipPrefix: '787', countries: ['United States', 'US'] },
  { city: 'Chicago', state: 'IL', zipPrefix: '606', countries: ['United States'] },
  { city: 'Boston', state: 'Massachusetts', zipPrefix: '021', countries: ['United States', 'usa'] },
  { city: 'Toronto', state: 'ON', zipPrefix: 'M5V', countries: ['Canada', 'CA'] },
  { city: 'London', state: null, zipPrefix: 'EC1A', countries: ['United Kingdom', 'UK', 'England'] },
  { city: 'Berlin', state: 'Berlin', zipPrefix: '101', countries: ['Germany', 'Deutschland', 'DE'] },
  { city: 'Lisbon', state: null, zipPrefix: '1100', countries: ['Portugal', 'PT'] },
  { city: 'Paris', state: 'Île-de-France', zipPrefix: '750', countries: ['France'] },
];

const asciiCache = new Map<string, string>();

/** The name as it would appear in an address: no accents, no punctuation. Names come from small pools, so cache. */
function ascii(s: string): string {
  let out = asciiCache.get(s);
  if (out === undefined) {
    out = s
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^A-Za-z0-9]/g, '')
      .toLowerCase();
    asciiCache.set(s, out);
  }
  return out;
}

export class ContactGenerator {
  private readonly rng: Prng;
  /** Earlier emails, for the same-address-different-case duplicates real portals accumulate. */
  private readonly emails: string[] = [];

  constructor(seed: number) {
    this.rng = new Prng(seed);
  }

  next(): PropertyInput {
    const r = this.rng;
    const first = r.pick(FIRST);
    const last = r.pick(LAST);
    const place = r.pick(PLACES);
    const company = r.pick(COMPANIES);
    return {
      firstname: this.messy(r.chance(0.06) ? null : first),
      lastname: this.messy(r.chance(0.05) ? null : last),
      email: this.email(first, last),
      hs_additional_emails: r.chance(0.06) ? this.additionalEmails(first, last) : null,
      phone: this.phone(0.85),
      mobilephone: this.phone(0.4),
      company: this.messy(r.chance(0.2) ? null : company),
      jobtitle: this.messy(r.chance(0.4) ? null : r.pick(TITLES)),
      address: r.chance(0.5) ? this.messy(`${r.int(1, 9999)} ${r.pick(STREETS)}${r.chance(0.15) ? `, Suite ${r.int(100, 900)}` : ''}`) : null,
      city: r.chance(0.6) ? this.messy(place.city) : null,
      state: r.chance(0.5) ? this.messy(place.state) : null,
      zip: r.chance(0.45) ? `${place.zipPrefix}${r.digits(2)}` : null,
      country: r.chance(0.55) ? this.messy(r.pick(place.countries)) : null,
      website: r.chance(0.5) ? this.website(company) : null,
      twitterhandle: r.chance(0.2) ? `${r.chance(0.5) ? '@' : ''}${ascii(first).slice(0, 6)}${ascii(last).slice(0, 6)}${r.int(0, 99)}` : null,
    };
  }

  /**
   * A portal's history before the simulator started: created over the past `spanDays`, last
   * modified some time after. A few percent share one of a handful of import timestamps, as a
   * bulk import or workflow leaves them, which is where a sync's tie handling gets tested.
   */
  historical(count: number, now: number, spanDays = 3 * 365): SeedEntry[] {
    const r = this.rng;
    const span = spanDays * 86_400_000;
    const imports = Array.from({ length: 5 }, () => now - r.int(1, span));
    const out: SeedEntry[] = [];
    for (let i = 0; i < count; i++) {
      const props = this.next();
      let createdAt = now - r.int(60_000, span);
      let updatedAt: number;
      if (r.chance(0.04)) {
        updatedAt = r.pick(imports);
        if (createdAt > updatedAt) createdAt = updatedAt - r.int(0, 86_400_000);
      } else {
        // Most records were touched again at some point; recent edits are more common.
        updatedAt = r.chance(0.2) ? createdAt : createdAt + Math.floor((now - createdAt) * Math.sqrt(r.next()));
      }
      out.push({ props, createdAt, updatedAt });
    }
    return out;
  }

  /** Surrounding whitespace now and then, and an empty string where someone cleared the field. */
  private messy(v: string | null): string | null {
    const r = this.rng;
    if (v === null) return r.chance(0.02) ? '' : null;
    const x = r.next();
    if (x < 0.02) return ` ${v}`;
    if (x < 0.04) return `${v}  `;
    if (x < 0.05) return `\t${v} `;
    return v;
  }

  private email(first: string, last: string): string | null {
    const r = this.rng;
    if (r.chance(0.08)) return r.chance(0.25) ? '' : null;
    if (this.emails.length > 0 && r.chance(0.02)) {
      return shuffleCase(r.pick(this.emails), r);
    }
    const f = ascii(first);
    const l = ascii(last);
    let local: string;
    switch (r.int(0, 3)) {
      case 0:
        local = `${f}.${l}`;
        break;
      case 1:
        local = `${f[0] ?? 'x'}${l}`;
        break;
      case 2:
        local = `${f}${r.int(1, 999)}`;
        break;
      default:
        local = `${l}.${f}+crm`;
    }
    const email = `${local}${r.int(0, 99_999)}@${r.pick(DOMAINS)}`;
    if (this.emails.length < 5000) this.emails.push(email);
    else this.emails[r.int(0, this.emails.length - 1)] = email;
    const x = r.next();
    if (x < 0.03) return shuffleCase(email, r);
    if (x < 0.05) return ` ${email} `;
    return email;
  }

  private additionalEmails(first: string, last: string): string {
    const r = this.rng;
    const n = r.int(1, 2);
    const list = Array.from({ length: n }, (_, i) => `${ascii(first)}${i === 0 ? '' : i}.${ascii(last)}@${r.pick(DOMAINS)}`);
    return list.join(';');
  }

  private phone(presence: number): string | null {
    const r = this.rng;
    if (!r.chance(presence)) return r.chance(0.1) ? '' : null;
    const area = r.pick(['415', '212', '312', '512', '617', '206', '303']);
    const line = `01${r.digits(2)}`;
    // US notations dominate real portals; the rest are the long tail.
    switch (r.chance(0.7) ? r.int(0, 6) : r.int(0, 18)) {
      case 0:
        return `(${area}) 555-${line}`;
      case 1:
        return `${area}-555-${line}`;
      case 2:
        return `${area}.555.${line}`;
      case 3:
        return `+1 ${area} 555 ${line}`;
      case 4:
        return `+1${area}555${line}`;
      case 5:
        return `1-${area}-555-${line}`;
      case 6:
        return `${area}555${line}`;
      case 7:
        return `555-${line} ext. ${r.int(1, 999)}`;
      case 8:
        return `(${area}) 555-${line} x${r.int(10, 9999)}`;
      case 9:
        return `+44 20 7946 0${r.digits(3)}`;
      case 10:
        return `+44 (0)20 7946 0${r.digits(3)}`;
      case 11:
        return `+49 30 ${r.digits(6)}`;
      case 12:
        return `+33 1 42 68 ${r.digits(2)} ${r.digits(2)}`;
      case 13:
        return `+351 21 ${r.digits(3)} ${r.digits(4)}`;
      case 14:
        return `  ${area} 555 ${line} `;
      case 15:
        return 'n/a';
      case 16:
        return 'N/A';
      case 17:
        return 'none';
      default:
        return '000-000-0000';
    }
  }

  private website(company: string): string {
    const r = this.rng;
    const host = `${ascii(company).slice(0, 14) || 'site'}.example`;
    return r.pick([`https://www.${host}`, `http://${host}/`, host, `www.${host}`, ` https://${host}/about `]);
  }
}

function shuffleCase(s: string, r: Prng): string {
  let out = '';
  for (const ch of s) out += r.chance(0.5) ? ch.toUpperCase() : ch.toLowerCase();
  // Guarantee a visible difference even when the coin flips reproduce the input.
  return out === s ? s.toUpperCase() : out;
}
