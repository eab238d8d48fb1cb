import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';

const run = promisify(execFile);

/**
 * A pg_dump at least as new as the server (pg_dump refuses older servers only): $PG_DUMP, then
 * Debian's versioned binaries, newest first, then the one on PATH.
 */
export async function findPgDump(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const serverMajor = Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v) / 10000;
  await client.end();
  let debian: string[] = [];
  try {
    debian = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin/pg_dump`);
  } catch {
    // not a Debian layout
  }
  const tried: string[] = [];
  for (const candidate of [process.env.PG_DUMP, ...debian, 'pg_dump'].filter((c): c is string => Boolean(c))) {
    try {
      const { stdout } = await run(candidate, ['--version']);
      const major = Number(/(\d+)(?:\.\d+)?/.exec(stdout)?.[1]);
      if (major >= Math.floor(serverMajor)) return candidate;
      tried.push(`${candidate} (${major})`);
    } catch {
      tried.push(`${candidate} (not runnable)`);
    }
  }
  throw new Error(`no pg_dump of version ${Math.floor(serverMajor)}+ found (tried ${tried.join(', ')}); set PG_DUMP`);
}

export async function pgDump(databaseUrl: string): Promise<string> {
  const { stdout } = await run(await findPgDump(databaseUrl), ['--dbname', databaseUrl, '--no-owner'], { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

/** Every key of the Redis and, read by its type, its whole value: one line per key. */
export async function redisContents(redis: Redis): Promise<{ keys: number; text: string }> {
  const lines: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      if (type === 'string') value = await redis.get(key);
      else if (type === 'hash') value = await redis.hgetall(key);
      else if (type === 'list') value = await redis.lrange(key, 0, -1);
      else if (type === 'set') value = await redis.smembers(key);
      else if (type === 'zset') value = await redis.zrange(key, 0, -1, 'WITHSCORES');
      else if (type === 'stream') value = await redis.xrange(key, '-', '+');
      else if (type === 'none') continue; // gone between SCAN and TYPE
      else throw new Error(`a Redis key of a type this search does not read: ${key} (${type})`);
      // Not JSON.stringify: it would escape what the value holds, and hide it from a plain search.
      lines.push(`${key} ${type} ${flatten(value)}`);
    }
  } while (cursor !== '0');
  return { keys: lines.length, text: lines.join('\n') };
}

function flatten(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(flatten).join(' ');
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k} ${flatten(v)}`).join(' ');
  return String(value);
}

/**
 * Every command any client sends the Redis server while it runs (MONITOR), arguments included:
 * what is written and deleted again within moments is seen too. On a socket of its own, since
 * ioredis's monitor mode can lose track of replies on a busy server.
 */
export async function recordRedisCommands(url: string): Promise<{ commands: () => string[]; stop: () => Promise<void> }> {
  const { hostname, port, username, password } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port || 6379) });
  await once(socket, 'connect');
  const auth = password ? (username ? ['AUTH', username, password] : ['AUTH', password]) : [];
  if (auth.length > 0) socket.write(`${auth.join(' ')}\r\n`);
  socket.write('MONITOR\r\n');
  const commands: string[] = [];
  let pending = '';
  let monitoring!: () => void;
  const started = new Promise<void>((resolve) => (monitoring = resolve));
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\r\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line === '+OK') monitoring();
      else if (line.startsWith('+')) commands.push(monitorArgs(line).join(' '));
      else if (line.startsWith('-')) throw new Error(`Redis refused MONITOR: ${line}`);
    }
  });
  socket.on('error', () => {});
  await started;
  return {
    commands: () => commands,
    stop: async () => {
      socket.destroy();
    },
  };
}

/** `+1700000000.1 [0 127.0.0.1:1234] "SET" "k" "caf\xc3\xa9"` → its arguments, bytes decoded as UTF-8. */
function monitorArgs(line: string): string[] {
  const args: string[] = [];
  const quoted = /"((?:[^"\\]|\\.)*)"/g;
  for (const [, raw] of line.matchAll(quoted)) {
    const bytes: number[] = [];
    for (let i = 0; i < raw!.length; i++) {
      const c = raw![i]!;
      if (c !== '\\') {
        bytes.push(c.charCodeAt(0));
        continue;
      }
      const next = raw![++i]!;
      if (next === 'x') {
        bytes.push(parseInt(raw!.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        bytes.push(({ n: 10, r: 13, t: 9, a: 7, b: 8 } as Record<string, number>)[next] ?? next.charCodeAt(0));
      }
    }
    args.push(Buffer.from(bytes).toString('utf8'));
  }
  return args;
}
