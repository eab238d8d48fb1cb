import { badRequest, notFound } from './errors.js';
import { iso, type Listed } from './listing.js';

export interface LabeledValue {
  value: string;
  primary: boolean;
  label: string;
}

export interface PostalAddress {
  value: string | null;
  street_number: string | null;
  route: string | null;
  subpremise: string | null;
  sublocality: string | null;
  locality: string | null;
  admin_area_level_1: string | null;
  admin_area_level_2: string | null;
  postal_code: string | null;
  country: string | null;
}

/** Pipedrive's visible_to: 1 the owner (and followers) only, 3 the entire company. */
export type VisibleTo = 1 | 3;

/** A person as the sim keeps it; times in epoch seconds (Pipedrive's precision). */
export interface SimPerson extends Listed {
  name: string;
  first_name: string | null;
  last_name: string | null;
  owner_id: number;
  org_id: number | null;
  emails: LabeledValue[];
  phones: LabeledValue[];
  visible_to: VisibleTo;
  picture_id: number | null;
  postal_address: PostalAddress | null;
  job_title: string | null;
  label_ids: number[];
}

export interface SimOrg extends Listed {
  name: string;
  owner_id: number;
  visible_to: VisibleTo;
}

export interface SimUser {
  id: number;
  name: string;
  email: string;
  is_admin: boolean;
}

/** A change to a person, as webhooks report it: the person after (create, change) or before (delete) it. */
export interface PersonEvent {
  action: 'create' | 'change' | 'delete';
  person: SimPerson;
  /** For a change: the person before it. */
  previous?: SimPerson;
  /** For a merge's delete: the survivor. */
  mergedToId?: number;
  /** Epoch seconds. */
  at: number;
}

/** What a caller may set on a person; absent fields keep their value (or their default on create). */
export type PersonInput = Partial<Pick<SimPerson, 'name' | 'first_name' | 'last_name' | 'owner_id' | 'org_id' | 'emails' | 'phones' | 'visible_to' | 'picture_id' | 'postal_address' | 'job_title'>>;

/** A person in API v2's JSON. */
export function personJson(p: SimPerson) {
  return {
    id: p.id,
    name: p.name,
    first_name: p.first_name,
    last_name: p.last_name,
    owner_id: p.owner_id,
    org_id: p.org_id,
    add_time: iso(p.add_time),
    update_time: iso(p.update_time),
    emails: p.emails.map((e) => ({ ...e })),
    phones: p.phones.map((e) => ({ ...e })),
    is_deleted: false,
    visible_to: p.visible_to,
    label_ids: [...p.label_ids],
    picture_id: p.picture_id,
    postal_address: p.postal_address && { ...p.postal_address },
    job_title: p.job_title,
    custom_fields: {},
  };
}

/** An organization in API v2's JSON. */
export function orgJson(o: SimOrg) {
  return {
    id: o.id,
    name: o.name,
    owner_id: o.owner_id,
    add_time: iso(o.add_time),
    update_time: iso(o.update_time),
    is_deleted: false,
    visible_to: o.visible_to,
    label_ids: [],
    address: null,
    custom_fields: {},
  };
}

/**
 * One Pipedrive company (account): its users, persons and organizations. Deleted records leave
 * the lists, as on Pipedrive; a merge keeps the survivor (with the other's emails and phones
 * added) and deletes the other.
 */
export class Company {
  readonly persons = new Map<number, SimPerson>();
  readonly orgs = new Map<number, SimOrg>();
  readonly users = new Map<number, SimUser>();
  /** Ids of deleted or merged-away persons, and who absorbed the merged ones. */
  readonly deleted = new Map<number, { mergedInto?: number }>();
  private nextPersonId: number;
  private nextOrgId: number;
  private readonly listeners: Array<(event: PersonEvent) => void> = [];

  constructor(
    readonly id: number,
    readonly name: string,
    readonly domain: string,
    /** Requests per 2-second window per token (20 Essential … 120 Enterprise for api_token). */
    public windowLimit: number,
    /** Requests per UTC day for the whole company (Infinity: no daily limit). */
    public dailyBudget: number,
    firstPersonId = 1,
  ) {
    this.nextPersonId = firstPersonId;
    this.nextOrgId = 1;
    this.users.set(1, { id: 1, name: 'Admin', email: `admin@${domain}.example`, is_admin: true });
  }

  /** Hears every person event of this company (webhooks). */
  listen(listener: (event: PersonEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(event: PersonEvent): void {
    for (const l of this.listeners) l(event);
  }

  addUser(user: Omit<SimUser, 'id'> & { id?: number }): SimUser {
    const id = user.id ?? Math.max(0, ...this.users.keys()) + 1;
    const u = { ...user, id };
    this.users.set(id, u);
    return u;
  }

  /** Whether a user may see a person: admins see all; others what the entire company sees, and their own. */
  canSee(user: SimUser, p: SimPerson): boolean {
    return user.is_admin || p.visible_to === 3 || p.owner_id === user.id;
  }

  createOrg(name: string, atSeconds: number): SimOrg {
    const o: SimOrg = { id: this.nextOrgId++, name, owner_id: 1, visible_to: 3, add_time: atSeconds, update_time: atSeconds };
    this.orgs.set(o.id, o);
    return o;
  }

  renameOrg(id: number, name: string, atSeconds: number): SimOrg {
    const o = this.orgs.get(id);
    if (!o) throw notFound(`Organization not found`);
    const renamed = { ...o, name, update_time: atSeconds };
    this.orgs.set(id, renamed);
    return renamed;
  }

  createPerson(input: PersonInput, atSeconds: number, addSeconds = atSeconds): SimPerson {
    this.checkOrg(input.org_id);
    const p: SimPerson = {
      id: this.nextPersonId++,
      name: '',
      first_name: null,
      last_name: null,
      owner_id: 1,
      org_id: null,
      emails: [],
      phones: [],
      visible_to: 3,
      picture_id: null,
      postal_address: null,
      job_title: null,
      label_ids: [],
      ...input,
      add_time: addSeconds,
      update_time: atSeconds,
    };
    this.persons.set(p.id, p);
    this.emit({ action: 'create', person: p, at: atSeconds });
    return p;
  }

  /** An edit: the given fields, and update_time moves to the write's second (even when nothing else changed). */
  editPerson(id: number, input: PersonInput, atSeconds: number): SimPerson {
    const p = this.person(id);
    this.checkOrg(input.org_id);
    const edited = { ...p, ...input, id, add_time: p.add_time, update_time: Math.max(atSeconds, p.update_time) };
    this.persons.set(id, edited);
    this.emit({ action: 'change', person: edited, previous: p, at: edited.update_time });
    return edited;
  }

  deletePerson(id: number, atSeconds?: number): void {
    const p = this.person(id);
    this.persons.delete(id);
    this.deleted.set(id, {});
    this.emit({ action: 'delete', person: p, at: atSeconds ?? p.update_time });
  }

  /**
   * Pipedrive's merge (`PUT /v1/persons/{id}/merge`, merge_with_id): the person `mergeWithId` survives
   * with the other's emails and phones appended (its own stay primary), and `id` is deleted.
   */
  mergePersons(id: number, mergeWithId: number, atSeconds: number): SimPerson {
    if (id === mergeWithId) throw badRequest('Cannot merge a person with itself');
    const gone = this.person(id);
    const survivor = this.person(mergeWithId);
    const add = (mine: LabeledValue[], theirs: LabeledValue[]) => [
      ...mine,
      ...theirs.filter((t) => !mine.some((m) => m.value === t.value)).map((t) => ({ ...t, primary: false })),
    ];
    const merged = this.editPerson(
      mergeWithId,
      {
        emails: add(survivor.emails, gone.emails),
        phones: add(survivor.phones, gone.phones),
        org_id: survivor.org_id ?? gone.org_id,
        job_title: survivor.job_title ?? gone.job_title,
      },
      atSeconds,
    );
    this.persons.delete(id);
    this.deleted.set(id, { mergedInto: mergeWithId });
    this.emit({ action: 'delete', person: gone, mergedToId: mergeWithId, at: atSeconds });
    return merged;
  }

  person(id: number): SimPerson {
    const p = this.persons.get(id);
    if (!p) throw notFound('Person not found');
    return p;
  }

  private checkOrg(orgId: number | null | undefined): void {
    if (orgId !== undefined && orgId !== null && !this.orgs.has(orgId)) throw badRequest(`Organization ${orgId} does not exist`);
  }
}
