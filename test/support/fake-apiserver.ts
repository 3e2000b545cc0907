// An in-process stand-in for the two API paths the agent reads (ConfigMaps of one namespace, Nodes), with
// list + watch semantics close enough to kube-apiserver's for the informer: resourceVersions, streamed watch
// events, a 410 Gone for a resourceVersion older than the last compaction, and server-side-apply PATCHes of
// ConfigMaps (stored, not interpreted). It lets the agent's and the proxy's watches be tested for watch expiry
// and API server restarts where the real control plane is not built. Plain HTTP, on 127.0.0.1 unless a test's
// containers must reach it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

type Kind = 'configmaps' | 'nodes';
interface Event {
  rv: number;
  kind: Kind;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubernetesObject;
}

export class FakeApiServer {
  readonly objects = {
    configmaps: new Map<string, KubernetesObject>(),
    nodes: new Map<string, KubernetesObject>(),
  };
  readonly applied = new Map<string, KubernetesObject>();
  readonly requests: string[] = [];
  #rv = 100;
  #compactedAt = 0;
  #history: Event[] = [];
  #watchers = new Set<{ kind: Kind; res: ServerResponse; matches: (o: KubernetesObject) => boolean }>();
  #sockets = new Set<Socket>();
  #server?: Server;
  port = 0;
  readonly namespace: string;

  constructor(namespace: string) {
    this.namespace = namespace;
  }

  /** The address it listens on (start's `host`), for kubeConfig(). */
  host = '127.0.0.1';

  async start(port = 0, host = '127.0.0.1'): Promise<void> {
    this.host = host;
    const server = createServer((req, res) => this.#handle(req, res));
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Drops every connection and stops listening (an API server going away). */
  async stop(): Promise<void> {
    for (const w of this.#watchers) w.res.destroy();
    this.#watchers.clear();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    this.#server = undefined;
  }

  /** A kubeconfig for it, reached at `server` (default: where it listens). */
  kubeConfig(
    server = `http://${this.host === '0.0.0.0' ? '127.0.0.1' : this.host}:${this.port}`,
  ): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server, skipTLSVerify: true }],
      users: [{ name: 'fake', token: 'fake' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** How many watches of `kind` are open now. */
  watching(kind: Kind): number {
    return [...this.#watchers].filter((w) => w.kind === kind).length;
  }

  put(kind: Kind, object: KubernetesObject): void {
    const name = object.metadata?.name ?? '';
    const type = this.objects[kind].has(name) ? 'MODIFIED' : 'ADDED';
    this.#emit(kind, type, object);
  }

  delete(kind: Kind, name: string): void {
    const object = this.objects[kind].get(name);
    if (object) this.#emit(kind, 'DELETED', object);
  }

  /**
   * Forgets history and ends every watch (as a server's watch timeout does): a watcher that comes back with
   * its old resourceVersion gets 410 Gone and must list again.
   */
  expireWatches(): void {
    this.#compactedAt = this.#rv + 1;
    this.#history = [];
    for (const w of this.#watchers) w.res.end();
    this.#watchers.clear();
  }

  #emit(kind: Kind, type: Event['type'], obj: KubernetesObject): void {
    const rv = ++this.#rv;
    const object = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } };
    if (type === 'DELETED') this.objects[kind].delete(object.metadata.name ?? '');
    else this.objects[kind].set(object.metadata.name ?? '', object);
    const event: Event = { rv, kind, type, object };
    this.#history.push(event);
    for (const w of this.#watchers) if (w.kind === kind && w.matches(object)) write(w.res, event);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const cmPath = `/api/v1/namespaces/${this.namespace}/configmaps`;
    if (req.method === 'PATCH' && url.pathname.startsWith(`${cmPath}/`)) {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const obj = JSON.parse(body) as KubernetesObject;
        this.applied.set(url.pathname.slice(cmPath.length + 1), obj);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/v1') {
      // Discovery, which KubernetesObjectApi reads to tell namespaced resources from cluster-scoped ones.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [
            {
              name: 'configmaps',
              namespaced: true,
              kind: 'ConfigMap',
              verbs: ['get', 'list', 'watch', 'patch'],
            },
            { name: 'nodes', namespaced: false, kind: 'Node', verbs: ['get', 'list', 'watch'] },
          ],
        }),
      );
      return;
    }
    const kind: Kind | undefined =
      url.pathname === cmPath ? 'configmaps' : url.pathname === '/api/v1/nodes' ? 'nodes' : undefined;
    if (req.method !== 'GET' || !kind) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          code: 404,
          message: `fake API server: no ${req.method} ${url.pathname}`,
        }),
      );
      return;
    }
    const matches = selector(url.searchParams);
    if (url.searchParams.get('watch') !== 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: kind === 'nodes' ? 'NodeList' : 'ConfigMapList',
          apiVersion: 'v1',
          metadata: { resourceVersion: String(this.#rv) },
          items: [...this.objects[kind].values()].filter(matches),
        }),
      );
      return;
    }
    const from = Number(url.searchParams.get('resourceVersion') ?? '0');
    res.writeHead(200, { 'content-type': 'application/json' });
    if (from < this.#compactedAt) {
      write(res, {
        type: 'ERROR',
        object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' },
      });
      res.end();
      return;
    }
    for (const e of this.#history) if (e.kind === kind && e.rv > from && matches(e.object)) write(res, e);
    const watcher = { kind, res, matches };
    this.#watchers.add(watcher);
    res.on('close', () => this.#watchers.delete(watcher));
  }
}

function write(res: ServerResponse, event: { type: string; object: unknown }): void {
  res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
}

/** labelSelector `key` (exists) and fieldSelector `metadata.name=x`: all the agent uses. */
function selector(params: URLSearchParams): (o: KubernetesObject) => boolean {
  const label = params.get('labelSelector');
  const field = params.get('fieldSelector');
  const name = field?.startsWith('metadata.name=') ? field.slice('metadata.name='.length) : undefined;
  return (o) =>
    (!label || label in (o.metadata?.labels ?? {})) && (name === undefined || o.metadata?.name === name);
}
