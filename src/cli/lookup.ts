#!/usr/bin/env node
/**
 * "Why wasn't this caller identified?" from a terminal: the admin API's contact lookup, printed
 * as the status page's search shows it.
 *
 *   ADMIN_TOKEN=… npm run lookup -- --tenant <id> --phone '(212) 555-0142' [--url http://127.0.0.1:3000]
 */
import { parseArgs } from 'node:util';
import type { LookupResponse } from '../admin/contact-lookup.js';

const USAGE = `contact-bridge-lookup: find a tenant's contacts and say whether Talkdesk can identify them

  --tenant ID        the tenant's id (required; the status page shows it)
  --phone NUMBER     a phone number in any format, e.g. '(212) 555-0142' or '+44 20 7946 0958'
  --email ADDRESS    an email address, any case
  --q NAME           the start of a name, any case, accents ignored
                     (exactly one of --phone, --email, --q)
  --url URL          the bridge (default: $BRIDGE_URL, else http://127.0.0.1:3000)
  --json             print the admin API's JSON instead of the verdicts
  --help             this text

The admin token is read from $ADMIN_TOKEN (never from the command line, where other users of
the machine could read it). Exits 1 on bad arguments or when the bridge answers with an error.`;

class UsageError extends Error {}

interface Args {
  url: string;
  tenant: string;
  query: Record<string, string>;
  json: boolean;
}

function parse(argv: string[], env: NodeJS.ProcessEnv): Args | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        tenant: { type: 'string' },
        phone: { type: 'string' },
        email: { type: 'string' },
        q: { type: 'string' },
        url: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  if (!values.tenant) throw new UsageError('--tenant is required');
  const given = (['phone', 'email', 'q'] as const).filter((k) => values[k] !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of --phone, --email, --q');
  const raw = values.url ?? env.BRIDGE_URL ?? 'http://127.0.0.1:3000';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url must be an absolute http(s) URL; got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be an http(s) URL; got ${JSON.stringify(raw)}`);
  return { url: url.href.replace(/\/$/, ''), tenant: values.tenant, query: { [given[0]!]: values[given[0]!]! }, json: values.json ?? false };
}

const MARK: Record<string, string> = { confirmed: 'ok', handed_out: '..', not_sent: '--', gone: 'ok', pending_deletion: '!!' };

/** The verdicts for a terminal: each contact, its phones as stored → normalized, the words, its timeline. */
function printable(answer: LookupResponse, query: Record<string, string>): string {
  const [[by, value]] = Object.entries(query) as [[string, string]];
  if (answer.contacts.length === 0) return `no contact with ${by === 'q' ? 'a name starting with' : by} ${JSON.stringify(value)}\n`;
  const out: string[] = [];
  for (const c of answer.contacts) {
    out.push(`${c.contact.name ?? '(erased)'}  [id ${c.id}]${c.deleted ? '  DELETED' : ''}`);
    for (const p of c.phones) out.push(`  phone  ${p.stored}  →  ${p.parses ? p.normalized : 'does not parse'}`);
    for (const v of c.verdicts) out.push(`  - ${v}`);
    for (const x of c.copies) out.push(`  copy   ${MARK[x.delivery] ?? '  '} ${x.label ?? x.credential}: ${x.delivery.replace('_', ' ')}`);
    if (c.history.length > 0) out.push('  timeline');
    for (const e of c.history) out.push(`    ${e.at}  ${e.source.padEnd(10)} ${e.deleted ? 'deleted' : e.fields.join(', ')}`);
    out.push('');
  }
  if (answer.next_offset !== undefined) out.push(`more contacts match: narrow the query (or page the JSON with offset=${answer.next_offset})`);
  if (answer.partial) out.push('the search index is catching up with a large write: a contact written in the last moments may be missing');
  return `${out.join('\n').trimEnd()}\n`;
}

async function main(argv: string[]): Promise<number> {
  let args: Args | 'help';
  try {
    args = parse(argv, process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`contact-bridge-lookup: ${err.message}\nRun with --help for usage.\n`);
    return 1;
  }
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const token = process.env.ADMIN_TOKEN;
  if (!token) {
    process.stderr.write('contact-bridge-lookup: set ADMIN_TOKEN to the bridge\'s admin token\n');
    return 1;
  }
  const url = `${args.url}/admin/tenants/${encodeURIComponent(args.tenant)}/contacts?${new URLSearchParams(args.query).toString()}`;
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    const text = await res.text();
    if (!res.ok) {
      process.stderr.write(`contact-bridge-lookup: the bridge answered HTTP ${res.status}: ${text}\n`);
      return 1;
    }
    process.stdout.write(args.json ? `${text}\n` : printable(JSON.parse(text) as LookupResponse, args.query));
    return 0;
  } catch (err) {
    const e = err as Error & { cause?: unknown };
    const cause = e.cause instanceof Error ? ` (${e.cause.message})` : '';
    process.stderr.write(`contact-bridge-lookup: ${e.message}${cause}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
