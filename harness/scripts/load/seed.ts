import { benchContact } from '../../bench/contacts.js';
import type { Db } from '../../../src/db/client.js';
import { writeContacts } from '../../../src/mirror/writer.js';
import { createTenant } from '../../../src/tenants/repository.js';
import type { BridgeKeys } from '../../../src/tenants/keys.js';

export interface SeededTenant {
  id: string;
  /** What Talkdesk sends as `auth` for it. */
  auth: Record<string, unknown>;
  /** benchContact seed: each tenant's contacts differ. */
  seed: number;
}

const BATCH = 1000;
// The writer pool's size: one batch per connection, several tenants at a time.
const PARALLEL = 4;

/**
 * Push tenants (as POST /admin/tenants makes them) filled with realistic contacts through the
 * mirror writer, the one path every contact takes into the mirror.
 */
export async function seedTenants(
  db: Db,
  keys: BridgeKeys,
  { tenants, contactsPerTenant, onContacts }: { tenants: number; contactsPerTenant: number; onContacts?: (written: number) => void },
): Promise<SeededTenant[]> {
  const seeded: SeededTenant[] = [];
  for (let i = 0; i < tenants; i++) {
    const auth = { api_key: `load-tenant-${i}` };
    const tenant = await createTenant(db, keys, { name: `load tenant ${i}`, crm: 'push', auth, backfillComplete: true });
    seeded.push({ id: tenant.id, auth, seed: i + 1 });
  }
  let next = 0;
  const worker = async () => {
    for (let t = next++; t < seeded.length; t = next++) {
      const tenant = seeded[t]!;
      for (let from = 0; from < contactsPerTenant; from += BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, contactsPerTenant - from) }, (_, k) => benchContact(from + k, 0, tenant.seed));
        await writeContacts(db, tenant.id, batch, 'backfill');
        onContacts?.(batch.length);
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return seeded;
}
