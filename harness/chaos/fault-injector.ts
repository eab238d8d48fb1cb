import { setTimeout as sleep } from 'node:timers/promises';
import type { SimControl } from '../hubspot-sim/control.js';
import type { TcpFaultProxy } from '../fault-proxy/tcp-fault-proxy.js';
import { FAULT_KINDS, type FaultKind } from './figures.js';
import { between, shuffle, type Prng } from './random.js';
import type { WorkerProcesses } from './worker-processes.js';

export interface FaultTargets {
  /** In front of PostgreSQL for the app and the workers (never the shared server itself). */
  postgresProxy: TcpFaultProxy;
  /** In front of Redis for the app and the workers. */
  redisProxy: TcpFaultProxy;
  workers: WorkerProcesses;
  sim: SimControl;
  portalIds: readonly number[];
  /** Ends the chaos database's server-side sessions of the app and the workers; returns how many. */
  terminateBackends(): Promise<number>;
}

/** How long an outage lasts: long enough for requests and jobs to fail, short enough to keep rounds short. */
const OUTAGE_MS: [number, number] = [300, 1800];
const CRM_SLOW_MS: [number, number] = [200, 1500];
/** Longer than HubSpot's 10-second window, the backoff a 429 without Retry-After causes. */
const SERVED_WITHIN_MS = 12_000;
const WORKERS_UP_WITHIN_MS = 120_000;

/**
 * Injects one fault at a time, and lifts it: a worker killed with kill -9 (and started again),
 * PostgreSQL "restarted" (its port refuses and its sessions are terminated, then it is back),
 * Redis "stopped and started" (its port refuses, then answers), HubSpot answering 429s, 5xx
 * or slowly. The shared PostgreSQL and Redis are never touched: the outages happen in the
 * proxies the app and the workers connect through.
 */
export class FaultInjector {
  constructor(
    private readonly targets: FaultTargets,
    private readonly rng: Prng,
    private readonly counts: Record<FaultKind, number>,
  ) {}

  /**
   * Which fault each round gets: every kind once, in a random order, in the first rounds (so a
   * short run still injects each of them), then a random kind in most later rounds.
   */
  plan(rounds: number): FaultKind[][] {
    const plan: FaultKind[][] = Array.from({ length: rounds }, () => []);
    shuffle(this.rng, FAULT_KINDS).forEach((kind, i) => plan[i % rounds]!.push(kind));
    for (let r = FAULT_KINDS.length; r < rounds; r++) if (this.rng.chance(0.75)) plan[r]!.push(this.rng.pick(FAULT_KINDS));
    return plan;
  }

  /** One fault of a random kind (between rounds). */
  randomKind(): FaultKind {
    return this.rng.pick(FAULT_KINDS);
  }

  /** Injects the fault and resolves once it has been lifted (for the CRM's queued answers: once served). */
  async inject(kind: FaultKind): Promise<void> {
    const { postgresProxy, redisProxy, workers, sim } = this.targets;
    const portalId = this.rng.pick(this.targets.portalIds);
    this.counts[kind]++;
    switch (kind) {
      case 'worker-kill': {
        const pause = this.rng.int(0, 1500);
        await workers.killOne(this.rng);
        await sleep(pause);
        workers.ensureRunning();
        break;
      }
      case 'postgres-restart': {
        const outage = between(this.rng, OUTAGE_MS);
        await postgresProxy.setMode('refuse');
        await this.targets.terminateBackends();
        await sleep(outage);
        await postgresProxy.setMode('up');
        break;
      }
      case 'redis-restart': {
        const outage = between(this.rng, OUTAGE_MS);
        await redisProxy.setMode('refuse');
        await sleep(outage);
        await redisProxy.setMode('up');
        break;
      }
      case 'crm-429': {
        const count = this.rng.int(1, 4);
        // HubSpot's own 429s usually carry no Retry-After; the client must then wait out the window.
        const retryAfterSeconds = this.rng.chance(0.5) ? this.rng.int(0, 2) : undefined;
        sim.rateLimitNext({ count, portalId, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) });
        await this.served();
        break;
      }
      case 'crm-5xx':
        sim.failNext({ count: this.rng.int(1, 3), status: this.rng.pick([500, 502, 503, 504]), portalId });
        await this.served();
        break;
      case 'crm-delay': {
        const ms = between(this.rng, CRM_SLOW_MS);
        const lasting = this.rng.int(500, 3000);
        sim.setDelay({ ms, portalId });
        await sleep(lasting);
        sim.setDelay({ ms: 0, portalId });
        break;
      }
    }
  }

  /**
   * Until ingest has asked HubSpot enough times to be answered every queued 429 or 5xx. Bounded
   * by progress, not by a fixed time: each 429 without Retry-After sends its tenant into a
   * 10-second backoff, so a queue of several takes that long per answer; the wait ends once
   * none has been served for SERVED_WITHIN_MS. What was really answered is in the simulator's stats.
   */
  private async served(): Promise<void> {
    // Only a running worker asks HubSpot anything: the window starts once every one is up.
    await this.targets.workers.allUp(WORKERS_UP_WITHIN_MS);
    const pending = () => this.targets.sim.faults().queued.reduce((n, q) => n + q.remaining, 0);
    let queued = pending();
    let until = Date.now() + SERVED_WITHIN_MS;
    while (queued > 0 && Date.now() < until) {
      await sleep(100);
      const now = pending();
      if (now < queued) until = Date.now() + SERVED_WITHIN_MS;
      queued = now;
    }
  }

  /** Every fault lifted: the CRM answers normally, both proxies forward, every worker runs. */
  async clear(): Promise<void> {
    this.targets.sim.resetFaults();
    await this.targets.postgresProxy.setMode('up');
    await this.targets.redisProxy.setMode('up');
    this.targets.workers.ensureRunning();
  }
}
