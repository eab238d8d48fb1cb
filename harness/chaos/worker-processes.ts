import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Prng } from './random.js';
import { FROM_SOURCE } from '../from-source.js';

/** How to start the production entry point (`src/server.ts` with ROLE=worker). */
export interface WorkerEntry {
  command: string;
  args: string[];
}

/** The product's entry point, src/server.ts, from source (see from-source.ts). */
export function defaultWorkerEntry(): WorkerEntry {
  const server = fileURLToPath(new URL('../../src/server.ts', import.meta.url));
  return { command: process.execPath, args: [...FROM_SOURCE, server] };
}

/** The line a worker process logs once its workers take jobs (src/runtime.ts). */
const STARTED = '"msg":"ingest workers started"';

interface Slot {
  child: ChildProcess;
  /** Set before the run kills it, so its exit is not counted as a crash. */
  killedByUs: boolean;
  exited: Promise<void>;
  /** Set once the process has logged that its workers take jobs. */
  up: boolean;
}

/**
 * Real worker processes (ROLE=worker), so that `kill -9` is a real one: no graceful shutdown,
 * the job's lock left behind in Redis, its advisory lock dropped with the connection.
 */
export class WorkerProcesses {
  private readonly slots: Array<Slot | undefined>;
  /** Exits the run did not cause. */
  crashes = 0;
  private readonly stderrTail: string[] = [];

  constructor(
    private readonly entry: WorkerEntry,
    private readonly env: Record<string, string>,
    count: number,
    private readonly onOutput: (line: string) => void = () => {},
  ) {
    this.slots = Array.from({ length: count }, () => undefined);
  }

  get count(): number {
    return this.slots.length;
  }

  startAll(): void {
    for (let i = 0; i < this.slots.length; i++) if (!this.slots[i]) this.start(i);
  }

  /** kill -9 of one running worker, picked at random; resolves once it is gone. */
  async killOne(rng: Prng): Promise<number> {
    const running = this.slots.flatMap((s, i) => (s ? [i] : []));
    const i = rng.pick(running);
    const slot = this.slots[i]!;
    slot.killedByUs = true;
    slot.child.kill('SIGKILL');
    await slot.exited;
    this.onOutput(`worker ${i}: killed (pid ${slot.child.pid}) at ${new Date().toISOString()}`);
    return i;
  }

  /** Starts every worker that is not running (killed, or crashed). */
  ensureRunning(): void {
    this.startAll();
  }

  /** The last lines the workers wrote to stderr, for a report of a crash. */
  recentOutput(): string[] {
    return [...this.stderrTail];
  }

  async close(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        if (!slot) return;
        slot.killedByUs = true;
        slot.child.kill('SIGKILL');
        await slot.exited;
      }),
    );
  }

  /**
   * Resolves once every worker slot holds a process whose workers take jobs (a restarted one
   * included). The run starts its clocks (faults that need ingest to ask the CRM, the catch-up
   * deadline) only then: a slow start is not lost work.
   */
  async allUp(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    // A slot emptied by a crash is not waited for: the run counts the crash, and restarts it at the end.
    while (!this.slots.every((s) => !s || s.up)) {
      if (Date.now() > until) throw new Error(`worker processes not up within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  private start(i: number): void {
    // CHAOS_WORKER_LOG=<file> keeps the workers' own log (CHAOS_LOG_LEVEL, default info) to
    // investigate a failed run with.
    const workerLog = process.env.CHAOS_WORKER_LOG;
    const child = spawn(this.entry.command, this.entry.args, {
      env: { ...process.env, ...this.env, ROLE: 'worker' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // 'error' (the command could not be started) ends the slot as an exit does.
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    const slot: Slot = { child, killedByUs: false, exited, up: false };
    this.slots[i] = slot;
    this.onOutput(`worker ${i}: started (pid ${child.pid}) at ${new Date().toISOString()}`);
    child.stdout!.setEncoding('utf8');
    let partial = '';
    child.stdout!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (!slot.up && line.includes(STARTED)) {
          slot.up = true;
          this.onOutput(`worker ${i}: up (pid ${child.pid}) at ${new Date().toISOString()}`);
        }
        if (workerLog) appendFileSync(workerLog, `${line}\n`);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (line.trim() === '') continue;
        this.stderrTail.push(`worker ${i}: ${line}`);
        if (this.stderrTail.length > 40) this.stderrTail.shift();
        this.onOutput(`worker ${i}: ${line}`);
      }
    });
    void slot.exited.then(() => {
      if (this.slots[i] === slot) this.slots[i] = undefined;
      if (!slot.killedByUs) {
        this.crashes++;
        this.onOutput(`worker ${i} exited by itself (code ${child.exitCode}, signal ${child.signalCode})`);
      }
    });
  }
}
