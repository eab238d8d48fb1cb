import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { FROM_SOURCE } from '../from-source.js';
import { freePort } from '../free-port.js';

/**
 * The real server (`ROLE=api`, the production entry point) as a child process, so its memory is
 * measured apart from the benchmark's own and requests cross a real socket. `npm run bench` builds
 * the product and names what ships (BENCH_SERVER_ENTRY=dist/src/server.js); without it (the smoke
 * test under tap) it starts src/server.ts with this process's loader flags.
 */
export interface ServerProcess {
  baseUrl: string;
  pid: number;
  /** Restarts the kernel's peak-RSS counter (VmHWM), so a peak can be read for one phase. */
  resetPeakRss(): void;
  /** Peak resident set size since start or the last reset, in bytes. */
  peakRss(): number;
  stop(): Promise<void>;
}

const builtEntry = process.env.BENCH_SERVER_ENTRY;
const entry = builtEntry ?? fileURLToPath(new URL('../../src/server.ts', import.meta.url));

export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...(builtEntry ? [] : FROM_SOURCE), entry], {
    env: { ...process.env, ...env, ROLE: 'api', PORT: String(port), HOST: '127.0.0.1', MIGRATE_ON_START: 'false' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitUntilUp(child, baseUrl);
  const pid = child.pid!;
  return {
    baseUrl,
    pid,
    resetPeakRss: () => writeFileSync(`/proc/${pid}/clear_refs`, '5'),
    peakRss: () => {
      const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
      if (!line) throw new Error('no VmHWM in /proc/<pid>/status');
      return Number(line[1]) * 1024;
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitUntilUp(child: ChildProcess, baseUrl: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode} while starting`);
    try {
      if ((await fetch(`${baseUrl}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error('the server did not answer /healthz within 30 s');
}

