import net from 'node:net';

/**
 * How the proxy treats connections:
 * - `up`: forwards bytes both ways.
 * - `refuse`: the port is closed (connection refused) and every open connection is reset, which
 *   is what clients see when the server process is stopped or restarted.
 * - `blackhole`: connections are accepted and open ones kept, but no byte goes through in either
 *   direction, which is what clients see behind a dead network path: only their own timeouts
 *   end the wait.
 */
export type ProxyMode = 'up' | 'refuse' | 'blackhole';

interface Pair {
  client: net.Socket;
  server?: net.Socket;
}

/**
 * A TCP proxy in front of PostgreSQL or Redis that fault tests and the chaos run switch between
 * `up`, `refuse` and `blackhole`, so an outage can be injected into one test's connections
 * without stopping the server other tests share.
 */
export class TcpFaultProxy {
  private server: net.Server | undefined;
  private readonly pairs = new Set<Pair>();
  private currentMode: ProxyMode = 'up';
  /** Connections accepted since start, for tests that check clients reconnected. */
  connectionsAccepted = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    private listenPort: number,
  ) {}

  static async start(target: { host: string; port: number }, listenPort = 0): Promise<TcpFaultProxy> {
    const proxy = new TcpFaultProxy(target, listenPort);
    await proxy.listen();
    return proxy;
  }

  get port(): number {
    return this.listenPort;
  }

  get mode(): ProxyMode {
    return this.currentMode;
  }

  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.listenPort);
    return u.toString();
  }

  async setMode(mode: ProxyMode): Promise<void> {
    if (mode === this.currentMode) return;
    const previous = this.currentMode;
    this.currentMode = mode;
    if (mode === 'refuse') {
      for (const p of this.pairs) this.destroy(p);
      await this.stopListening();
      return;
    }
    if (previous === 'refuse') await this.listen();
    if (mode === 'up') {
      // Connections held during a blackhole were never connected upstream; a client that is still
      // waiting on one would get a server speaking mid-conversation, so they are reset instead.
      for (const p of this.pairs) if (!p.server) this.destroy(p);
      for (const p of this.pairs) {
        p.client.resume();
        p.server?.resume();
      }
    } else {
      for (const p of this.pairs) {
        p.client.pause();
        p.server?.pause();
      }
    }
  }

  async close(): Promise<void> {
    for (const p of this.pairs) this.destroy(p);
    await this.stopListening();
  }

  private listen(): Promise<void> {
    const server = net.createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => {
        server.off('error', reject);
        this.listenPort = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private stopListening(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.connectionsAccepted++;
    const pair: Pair = { client };
    this.pairs.add(pair);
    client.on('error', () => this.destroy(pair));
    client.on('close', () => this.destroy(pair));
    if (this.currentMode === 'blackhole') {
      client.pause();
      return;
    }
    this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    const server = net.connect(this.target.port, this.target.host);
    pair.server = server;
    server.on('error', () => this.destroy(pair));
    server.on('close', () => this.destroy(pair));
    this.forward(pair.client, server);
    this.forward(server, pair.client);
  }

  /**
   * Copies bytes one way. Not `pipe()`: its back-pressure resumes the source on the
   * destination's 'drain', which would let bytes through a blackhole; here a source resumes on
   * 'drain' only while the proxy is up.
   */
  private forward(from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (this.currentMode === 'up') from.resume();
    });
    from.on('end', () => to.end());
  }

  private destroy(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.resetAndDestroy();
    pair.server?.resetAndDestroy();
  }
}
