import { makeProps, type ContactProps } from '../hubspot-sim/contact.js';
import { ContactGenerator } from '../hubspot-sim/generate.js';
import { Prng } from '../hubspot-sim/prng.js';
import type { Company, LabeledValue, PersonInput, PostalAddress } from './company.js';

/**
 * Persons that look like a real Pipedrive company's, from the same ugly values as HubSpot's
 * simulator (stray whitespace, every phone notation, "n/a", emails differing only in case), laid
 * out as Pipedrive holds them: lists of emails and phones whose primary one is not always the
 * first (or is missing), organizations named by hand (so "Acme Corp" and " Acme Corp" are two),
 * addresses either formatted or only in parts, a few persons only their owner may see, and
 * batches that share one update second (an import). Deterministic for a seed.
 */
export class PersonGenerator {
  private readonly contacts: ContactGenerator;
  private readonly rng: Prng;

  constructor(seed: number) {
    this.contacts = new ContactGenerator(seed);
    this.rng = new Prng(seed ^ 0x5eed);
  }

  next(company: Company, atSeconds: number): PersonInput {
    const r = this.rng;
    const c = makeProps(this.contacts.next());
    const emails = labeled([c.email, ...(c.hs_additional_emails?.split(';') ?? [])], r, ['work', 'home', 'other']);
    if (emails.length > 0 && r.chance(0.03)) emails.push({ value: emails[0]!.value.toUpperCase(), primary: false, label: 'other' });
    const phones = labeled([c.phone, c.mobilephone], r, ['work', 'mobile', 'home']);
    const name = r.chance(0.04) ? (r.chance(0.5) ? '' : '  ') : `${c.firstname ?? ''} ${c.lastname ?? ''}`;
    const owners = [...company.users.keys()];
    const input: PersonInput = {
      name,
      first_name: c.firstname,
      last_name: c.lastname,
      emails,
      phones,
      owner_id: r.pick(owners),
      visible_to: r.chance(0.1) ? 1 : 3,
      picture_id: r.chance(0.3) ? r.int(1, 99_999) : null,
      job_title: c.jobtitle,
      postal_address: address(c, r),
    };
    if (c.company !== null && c.company !== '') input.org_id = orgNamed(company, c.company, atSeconds);
    return input;
  }

  /** `count` persons created and last changed over the past `spanDays`; some share an import's second. */
  seed(company: Company, count: number, nowSeconds: number, spanDays = 365): void {
    const r = this.rng;
    const span = spanDays * 86_400;
    const imports = Array.from({ length: 3 }, () => nowSeconds - r.int(60, span));
    const entries = Array.from({ length: count }, () => {
      const added = nowSeconds - r.int(60, span);
      const updated = r.chance(0.05) ? Math.max(added, r.pick(imports)) : added + Math.floor((nowSeconds - added) * r.next());
      return { added, updated };
    });
    // Ids grow with creation time, as on Pipedrive.
    entries.sort((a, b) => a.added - b.added);
    for (const { added, updated } of entries) company.createPerson(this.next(company, added), updated, added);
  }
}

function labeled(values: (string | null)[], r: Prng, labels: readonly string[]): LabeledValue[] {
  const present = values.filter((v): v is string => v !== null && (v !== '' || r.chance(0.3)));
  const primary = present.length === 0 ? -1 : r.chance(0.8) ? 0 : r.chance(0.5) ? present.length - 1 : -1;
  return present.map((value, i) => ({ value, primary: i === primary, label: r.pick(labels) }));
}

function address(c: ContactProps, r: Prng): PostalAddress | null {
  if (c.address === null && c.city === null && c.country === null) return null;
  const parts = [c.address, c.city, c.state, c.zip, c.country].filter((p): p is string => p !== null && p.trim() !== '');
  const formatted = r.chance(0.5);
  const m = /^(\d+) (.*)$/.exec(c.address?.trim() ?? '');
  return {
    value: formatted ? parts.join(', ') : null,
    street_number: formatted ? null : (m?.[1] ?? null),
    route: formatted ? null : (m?.[2] ?? c.address),
    subpremise: null,
    sublocality: null,
    locality: formatted ? null : c.city,
    admin_area_level_1: formatted ? null : c.state,
    admin_area_level_2: null,
    postal_code: formatted ? null : c.zip,
    country: formatted ? null : c.country,
  };
}

function orgNamed(company: Company, name: string, atSeconds: number): number {
  for (const o of company.orgs.values()) if (o.name === name) return o.id;
  return company.createOrg(name, atSeconds).id;
}
