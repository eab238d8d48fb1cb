import type { CountryCode } from 'libphonenumber-js/max';
import type { Contact } from '../../src/mirror/contact.js';
import { mapPipedrivePerson, type PipedrivePerson } from '../../src/crm/pipedrive/mapping.js';
import type { SimControl } from '../hubspot-sim/control.js';
import type { PipedriveSimControl } from '../pipedrive-sim/control.js';
import type { PersonInput } from '../pipedrive-sim/company.js';
import { PersonGenerator } from '../pipedrive-sim/generate.js';
import { crmTruth } from '../talkdesk/copy.js';
import type { CrmWriteKind } from './crm-edits.js';
import type { CrmWriteCounts } from './figures.js';
import { sample, type Prng } from './random.js';

/**
 * The CRMs of a chaos run, as the checks see them: every account (a HubSpot portal, or a Pipedrive
 * company) is a number, its truth is its live records mapped as the bridge maps them.
 */
export interface CrmWorld {
  truth(account: number): Map<string, Contact>;
  /** Resolves once the account's writes are visible to the bridge's reads (HubSpot's search lags). */
  settled(account: number): Promise<void>;
  /** One record as the CRM has it, for a run that did not catch up. */
  describe(account: number, id: string): string;
}

export interface ChaosPipedrive {
  companyId: number;
  domain: string;
  control: PipedriveSimControl;
}

export function crmWorld(hubspot: SimControl, pipedrive: ChaosPipedrive | undefined): CrmWorld {
  const isPipedrive = (account: number) => pipedrive !== undefined && account === pipedrive.companyId;
  return {
    truth: (account) => (isPipedrive(account) ? pipedriveTruth(pipedrive!) : crmTruth(hubspot, account)),
    settled: async (account) => {
      if (!isPipedrive(account)) await hubspot.searchSettled({ portalId: account });
    },
    describe(account, id) {
      if (isPipedrive(account)) {
        const p = pipedrive!.control.company({ companyId: account }).persons.get(Number(id));
        return p ? `update_time ${new Date(p.update_time * 1000).toISOString()}` : 'deleted';
      }
      const crm = hubspot.getContact(id, { portalId: account });
      return crm ? `created ${crm.createdAt}, modified ${crm.updatedAt}${crm.archived ? ', archived' : ''}` : 'archived';
    },
  };
}

/** The company's live persons, mapped exactly as the bridge maps them. */
export function pipedriveTruth({ companyId, domain, control }: ChaosPipedrive): Map<string, Contact> {
  const orgs = new Map(control.orgs({ companyId }).map((o) => [o.id, o.name]));
  return new Map(
    control.persons({ companyId }).map((p) => [
      String(p.id),
      mapPipedrivePerson(p as PipedrivePerson, { companyDomain: domain, orgName: p.org_id === null ? undefined : orgs.get(p.org_id), defaultRegion: 'US' as CountryCode }),
    ]),
  );
}

const EDITABLE = ['name', 'emails', 'phones', 'job_title', 'org_id', 'postal_address'] as const;

/** Below this many live persons the company gets creates instead of deletions and merges. */
const MIN_LIVE = 20;

/**
 * The Pipedrive side of the chaos run's writes: creates, edits (some emptying fields), deletions
 * and merges, with the simulator's ugly values, counted with the HubSpot ones. Its own stream.
 */
export class PipedriveEditor {
  private readonly generator: PersonGenerator;

  constructor(
    private readonly pd: ChaosPipedrive,
    private readonly rng: Prng,
    private readonly counts: CrmWriteCounts,
  ) {
    this.generator = new PersonGenerator(rng.int(1, 2 ** 30));
  }

  write(): CrmWriteKind {
    const { control, companyId } = this.pd;
    const ref = { companyId };
    const live = control.persons(ref).map((p) => p.id);
    const roll = live.length < MIN_LIVE ? 0 : this.rng.int(1, 100);
    const company = control.company(ref);
    const fresh = () => this.generator.next(company, Math.floor(Date.now() / 1000));
    if (roll <= 25) {
      control.createPersons([fresh()], ref);
      this.counts.creates++;
      return 'create';
    }
    if (roll <= 75) {
      const next = fresh();
      const input: PersonInput = {};
      for (const field of sample(this.rng, EDITABLE, this.rng.int(1, 3))) {
        (input as Record<string, unknown>)[field] = this.rng.chance(0.2) ? emptied(field) : (next[field] ?? emptied(field));
      }
      control.editPerson(this.rng.pick(live), input, ref);
      this.counts.edits++;
      return 'edit';
    }
    if (roll <= 90) {
      control.deletePerson(this.rng.pick(live), ref);
      this.counts.archivals++;
      return 'archive';
    }
    const [loser, survivor] = sample(this.rng, live, 2);
    control.mergePersons(loser!, survivor!, ref);
    this.counts.merges++;
    return 'merge';
  }
}

function emptied(field: (typeof EDITABLE)[number]): unknown {
  return field === 'emails' || field === 'phones' ? [] : field === 'name' ? ' ' : null;
}
