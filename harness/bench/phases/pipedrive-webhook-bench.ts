import type net from 'node:net';
import { buildPipedriveSim } from '../../pipedrive-sim/server.js';
import type { WebhookBenchCrm } from './webhook-latency.js';

const COMPANY = 4344;
const TOKEN = 'bench-pd-webhooks';

/**
 * The webhook-latency phase's Pipedrive: the bridge subscribes itself (PUBLIC_URL is set in both
 * modes), so "polling alone" is every delivery dropped until the phase subscribes, and the
 * webhook mode waits for the bridge's subscription before the first edit.
 */
export const pipedriveWebhookBench: WebhookBenchCrm = {
  kind: 'pipedrive',
  async start(contacts) {
    const sim = await buildPipedriveSim({ companies: [{ companyId: COMPANY, domain: 'bench', tokens: [TOKEN], persons: contacts, windowLimit: 80 }] });
    sim.control.webhooks.setFaults({ dropRate: 1 });
    let subscribed = false;
    await sim.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = sim.app.server.address() as net.AddressInfo;
    return {
      env: { PIPEDRIVE_BASE_URL: `http://127.0.0.1:${port}`, PIPEDRIVE_OVERLAP_SECONDS: '0', CRM: 'pipedrive' },
      auth: { api_token: TOKEN },
      contactIds: (n) => sim.control.persons({ companyId: COMPANY }).slice(0, n).map((p) => String(p.id)),
      setTitle: (id, title) => void sim.control.editPerson(Number(id), { job_title: title }, { companyId: COMPANY }),
      subscribe: () => {
        subscribed = true;
        sim.control.webhooks.setFaults({});
      },
      async ready() {
        const until = Date.now() + 30_000;
        while (subscribed && sim.control.webhooks.all().length === 0) {
          if (Date.now() > until) throw new Error('the bridge did not subscribe to the Pipedrive webhooks within 30 s');
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      requests: () => sim.control.stats().requests,
      resetRequests: () => sim.control.resetStats(),
      close: async () => {
        sim.control.webhooks.close();
        await sim.app.close();
      },
    };
  },
};
