import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TObject } from '@sinclair/typebox';
import { ConfigError, enabledCrms, type Config } from '../config.js';
import type { Connector, ConnectorHooks, ConnectorModule, TalkdeskForm } from './connector.js';
import { hubspot } from './hubspot/connector.js';
import { pipedrive } from './pipedrive/connector.js';

/** Every CRM the bridge can mirror. A new CRM is a folder under src/crm and one entry here. */
const AVAILABLE: readonly ConnectorModule[] = [hubspot, pipedrive];

/**
 * The connectors a process runs (the CRM setting; default all), one of each, so every tenant
 * of one CRM account shares one rate limiter in the process. A tenant's CRM is its own (its
 * `crm` column): one process serves tenants of every enabled CRM.
 */
export class ConnectorRegistry {
  private readonly byKind = new Map<string, { connector: Connector; auth: TypeCheck<TObject> }>();

  constructor(connectors: readonly Connector[]) {
    for (const connector of connectors) {
      this.byKind.set(connector.kind, { connector, auth: TypeCompiler.Compile(connector.authSchema) });
    }
  }

  get size(): number {
    return this.byKind.size;
  }

  get kinds(): string[] {
    return [...this.byKind.keys()];
  }

  /** The connector of a tenant's CRM; undefined for pushed tenants or a CRM not enabled here. */
  get(kind: string): Connector | undefined {
    return this.byKind.get(kind)?.connector;
  }

  /** The one connector whose `auth` fields these credentials have exactly; undefined for none (or, never by design, several). */
  forAuth(auth: Record<string, unknown>): Connector | undefined {
    const matching = [...this.byKind.values()].filter((c) => c.auth.Check(auth));
    return matching.length === 1 ? matching[0]!.connector : undefined;
  }
}

/** The enabled connectors, configured from the environment. */
export function createConnectors(config: Config, hooks: ConnectorHooks = {}): ConnectorRegistry {
  const enabled = enabledCrms(config);
  const wanted = enabled === 'all' ? AVAILABLE.map((m) => m.kind) : enabled;
  const unknown = wanted.filter((kind) => !AVAILABLE.some((m) => m.kind === kind));
  if (unknown.length > 0) {
    throw new ConfigError(`CRM: unknown ${unknown.join(', ')} (known: ${AVAILABLE.map((m) => m.kind).join(', ')}, or none)`);
  }
  return new ConnectorRegistry(AVAILABLE.filter((m) => wanted.includes(m.kind)).map((m) => m.create(config, hooks)));
}

/**
 * The Talkdesk form of each CRM this process enables, in the registry's order (all of them when
 * none is enabled, so the document still says what each integration asks for). With `oauth`
 * (the bridge has its own app), a CRM that has an OAuth form asks for a connection key instead.
 */
export function talkdeskForms(config: Pick<Config, 'CRM'>, { oauth = false }: { oauth?: boolean } = {}): Array<{ kind: string; form: TalkdeskForm }> {
  const enabled = enabledCrms(config);
  const modules = enabled === 'all' || enabled.length === 0 ? AVAILABLE : AVAILABLE.filter((m) => enabled.includes(m.kind));
  return modules.map((m) => ({ kind: m.kind, form: (oauth ? m.oauthTalkdeskForm : undefined) ?? m.talkdeskForm }));
}
