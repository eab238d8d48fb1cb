#!/usr/bin/env node
/**
 * One Talkdesk-style contact-sync run against a bridge, from the command line:
 *
 *   npm run sync -- --url http://127.0.0.1:3000/contact_sync --auth '{"access_token":"…"}' \
 *     [--checkpoint TOKEN] [--out contacts.ndjson] [--quiet]
 *
 * Progress (one line per page) goes to stderr; the summary is one JSON line on stdout.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { httpSyncCall, runSync, SyncHttpError } from './talkdesk-client.js';

const USAGE = `contact-bridge-sync: run one Talkdesk-style contact sync against a bridge

  --url URL            the bridge's contact-sync endpoint (required),
                       e.g. http://127.0.0.1:3000/contact_sync
  --auth JSON          the credentials object Talkdesk sends as "auth" (required),
                       e.g. '{"access_token":"demo-token"}'
  --checkpoint TOKEN   a checkpoint from a previous run: an incremental sync
  --out FILE           write the contacts to FILE as NDJSON (one contact per line)
  --quiet              no per-page progress on stderr
  --help               this text

Prints one progress line per page to stderr and a summary to stdout as one JSON line:
  {"pages":3,"contacts":25,"seconds":0.052,"checkpoint":"v1.…"}
Exits 1 on bad arguments or when the bridge answers with an error.`;

class UsageError extends Error {}

interface Args {
  url: string;
  auth: Record<string, unknown>;
  checkpoint: string | undefined;
  out: string | undefined;
  quiet: boolean;
  help: boolean;
}

function parse(argv: string[]): Args {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        auth: { type: 'string' },
        checkpoint: { type: 'string' },
        out: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return { url: '', auth: {}, checkpoint: undefined, out: undefined, quiet: false, help: true };

  if (values.url === undefined) throw new UsageError('--url is required');
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new UsageError(`--url must be an absolute http(s) URL; got ${JSON.stringify(values.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--url must be an http(s) URL; got ${JSON.stringify(values.url)}`);
  }

  if (values.auth === undefined) throw new UsageError('--auth is required (a JSON object)');
  let auth: unknown;
  try {
    auth = JSON.parse(values.auth);
  } catch (err) {
    throw new UsageError(`--auth must be a JSON object: ${(err as Error).message}`);
  }
  if (typeof auth !== 'object' || auth === null || Array.isArray(auth)) {
    throw new UsageError(`--auth must be a JSON object; got ${values.auth}`);
  }

  if (values.checkpoint !== undefined && values.checkpoint.trim() === '') throw new UsageError('--checkpoint must not be empty');
  if (values.out !== undefined && values.out === '') throw new UsageError('--out must not be empty');

  return {
    url: url.href,
    auth: auth as Record<string, unknown>,
    checkpoint: values.checkpoint,
    out: values.out,
    quiet: values.quiet ?? false,
    help: false,
  };
}

async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`contact-bridge-sync: ${err.message}\nRun with --help for usage.\n`);
    return 1;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  try {
    const result = await runSync(httpSyncCall(args.url), {
      auth: args.auth,
      checkpoint: args.checkpoint,
      onPage: args.quiet
        ? undefined
        : (p) => process.stderr.write(`page ${p.page}: ${p.contacts.length} contacts (${p.total} so far), ${p.seconds.toFixed(2)} s\n`),
    });
    if (args.out !== undefined) {
      writeFileSync(args.out, result.contacts.map((c) => `${JSON.stringify(c)}\n`).join(''));
    }
    const summary = {
      pages: result.pages,
      contacts: result.contacts.length,
      seconds: Math.round(result.seconds * 1000) / 1000,
      checkpoint: result.checkpoint,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof SyncHttpError) {
      const body = typeof err.body === 'string' ? err.body : JSON.stringify(err.body);
      process.stderr.write(`contact-bridge-sync: the bridge answered HTTP ${err.status} on page ${err.page}: ${body}\n`);
    } else {
      const e = err as Error & { cause?: unknown };
      const cause = e.cause instanceof Error ? ` (${e.cause.message})` : '';
      process.stderr.write(`contact-bridge-sync: ${e.message}${cause}\n`);
    }
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
