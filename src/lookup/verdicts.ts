import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { normalizePhone } from '../crm/phone.js';
import { PUSH_CRM } from '../tenants/lifecycle.js';

/** One phone of a contact: as stored (what Talkdesk receives) and as the mapping normalizes it. */
export interface PhoneView {
  stored: string;
  /** E.164, when it parses as a valid number in the region. */
  normalized?: string;
  parses: boolean;
}

export function phoneViews(phones: readonly string[] | undefined, region: CountryCode): PhoneView[] {
  return (phones ?? []).map((stored) => {
    const n = normalizePhone(stored, region);
    const parses = n !== undefined && /^\+\d+$/.test(n) && parsePhoneNumberFromString(n)?.isValid() === true;
    return { stored, ...(parses ? { normalized: n } : {}), parses };
  });
}

/** The facts a verdict is drawn from: the detail route's answer (admin/contact-detail.ts) has them. */
export interface VerdictFacts {
  deleted: boolean;
  contact: { name?: string; phones?: string[] };
  key: { updated_at: string };
  crm_changed_at?: string;
  history: ReadonlyArray<{ source: string }>;
  copies: ReadonlyArray<{ credential: string; label?: string; last_sync_at?: string; delivery: string }>;
}

const CRM_NAMES: Record<string, string> = { hubspot: 'HubSpot', pipedrive: 'Pipedrive' };
const crmName = (crm: string) => CRM_NAMES[crm] ?? crm;

const SOURCE_WORDS: Record<string, string> = {
  backfill: 'the backfill',
  poll: 'a poll',
  webhook: 'webhook',
  admin_push: 'the admin API',
  resync: 'a resync',
  sweep: 'the deletion sweep',
  merge: 'a merge',
};

/** "2026-12-02 12:03:10 UTC": to the second, which is what an operator compares with a call log. */
export const clock = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;

/**
 * Why a caller with this contact's number was or was not identified, in words: its phones, where
 * its current version came from, and for each Talkdesk copy whether that copy has it. The screen
 * and the lookup command print these lines; the JSON beside them holds the same facts.
 */
export function verdicts(detail: VerdictFacts, crm: string, region: CountryCode): string[] {
  const lines: string[] = [];
  const erased = detail.deleted && detail.contact.name === undefined;
  if (!erased) {
    const phones = phoneViews(detail.contact.phones, region);
    if (phones.length === 0) lines.push('it has no phone number: Talkdesk cannot identify a caller by it');
    for (const p of phones) {
      if (!p.parses) {
        lines.push(`this number is stored as '${p.stored}' and does not parse as a phone in region ${region}; Talkdesk may not match it`);
      } else if (p.normalized !== p.stored) {
        lines.push(`this number is stored as '${p.stored}' (${p.normalized} in region ${region}); Talkdesk receives it as stored`);
      }
    }
  }

  const current = detail.history[0];
  const mirrored = `${clock(detail.key.updated_at)}${current ? ` by ${SOURCE_WORDS[current.source] ?? current.source}` : ''}`;
  const origin = crm === PUSH_CRM ? 'pushed through the admin API' : `${detail.deleted ? 'deleted' : 'changed'} in ${crmName(crm)}`;
  const crmAt = detail.crm_changed_at && !detail.deleted ? ` ${clock(detail.crm_changed_at)}` : '';
  if (erased) lines.push(`deleted with its data (a privacy deletion or a purge): only its id is kept, mirrored ${mirrored}`);
  else if (detail.deleted) lines.push(`${crm === PUSH_CRM ? 'deleted through the admin API' : `deleted in ${crmName(crm)}`}, mirrored ${mirrored}`);
  else lines.push(`${origin}${crmAt}, mirrored ${mirrored}`);

  if (detail.copies.length === 0) lines.push('no Talkdesk copy syncs this tenant yet');
  for (const copy of detail.copies) {
    const name = `Talkdesk copy '${copy.label ?? copy.credential}'`;
    const last = copy.last_sync_at ? `its last sync ${clock(copy.last_sync_at)}` : 'it has never synced';
    switch (copy.delivery) {
      case 'confirmed':
        lines.push(`${name} confirmed this version by ${copy.last_sync_at ? clock(copy.last_sync_at) : 'its last sync'}`);
        break;
      case 'handed_out':
        lines.push(`${name} was handed this version in a sync page but has not confirmed it (${last}); it is proven once that copy's next sync brings the checkpoint back`);
        break;
      case 'not_sent':
        lines.push(`${name} has not been sent this version yet (${last})`);
        break;
      case 'pending_deletion':
        lines.push(`${name} still has it until its next full sync (pending since ${clock(detail.key.updated_at)}; ${last})`);
        break;
      case 'gone':
        lines.push(`${name} no longer has it: a full sync that began after the deletion was confirmed`);
        break;
    }
  }
  return lines;
}
