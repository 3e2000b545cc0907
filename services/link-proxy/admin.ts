// The proxy's admin API (node:http: a handful of routes do not need a framework).
//   GET  /healthz, /readyz, /metrics
//   GET  /api/v1/profile                 the profile in force (document and resolved topology)
//   PUT  /api/v1/profile                 body: a LinkProfile in YAML or JSON; or ?preset=NAME with no body.
//                                        Validated with the topology model; a bad one is answered 400 with
//                                        every located problem and the old profile stays in force.
//   GET  /api/v1/links                   routes, the links they cross, configured paths and counters
//   GET  /api/v1/faults                  faults in force
//   PUT  /api/v1/faults/{link}           body {"type": "reset" | "timeout" | "refuse"}
//   DELETE /api/v1/faults/{link}, DELETE /api/v1/faults
import http from 'node:http';
import {
  formatDuration,
  formatLoss,
  formatRate,
  PRESET_NAMES,
  PRESETS,
  ProfileError,
  parseProfileText,
  type Topology,
  topologyFrom,
} from '../topology/index.ts';
import { FAULT_HELP, FAULT_TYPES, type FaultType, type LinkProxy } from './proxy.ts';

const MAX_BODY_BYTES = 1024 * 1024;

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly extra: Record<string, unknown>;
  constructor(status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, type = 'application/json') {
  const text = type === 'application/json' ? `${JSON.stringify(body, null, 2)}\n` : String(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, 'body_too_large', `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A topology as people read it: units back in the strings. */
export function describeTopology(t: Topology) {
  return {
    name: t.name,
    description: t.description,
    sites: t.sites,
    links: t.links.map((l) => ({
      link: l.link,
      from: l.from,
      to: l.to,
      latency: formatDuration(l.impairment.latencySeconds),
      jitter: formatDuration(l.impairment.jitterSeconds),
      distribution: l.impairment.distribution,
      loss: formatLoss(l.impairment.loss),
      rate: formatRate(l.impairment.rateBitsPerSecond),
      impairment: l.impairment,
    })),
  };
}

export function createAdminServer(
  proxy: LinkProxy,
  hooks: { ready: () => boolean; metrics: () => Promise<{ contentType: string; body: string }> },
): http.Server {
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const m = proxy.options.metrics;

    if (path === '/healthz' && method === 'GET') return send(res, 200, { status: 'ok' });
    if (path === '/readyz' && method === 'GET') {
      return hooks.ready() ? send(res, 200, { status: 'ready' }) : send(res, 503, { status: 'starting' });
    }
    if (path === '/metrics' && method === 'GET') {
      const { contentType, body } = await hooks.metrics();
      return send(res, 200, body, contentType);
    }
    if (path === '/api/v1/profile') {
      if (method === 'GET') {
        return send(res, 200, {
          document: proxy.profileDocument,
          topology: describeTopology(proxy.topology),
        });
      }
      if (method === 'PUT') {
        const preset = url.searchParams.get('preset');
        let topology: Topology;
        let document: unknown;
        try {
          if (preset !== null) {
            const doc = PRESETS[preset];
            if (!doc) {
              throw new ProfileError(`preset ${preset}`, [
                { path: '', message: `is not a preset; presets: ${PRESET_NAMES.join(', ')}` },
              ]);
            }
            topology = topologyFrom(doc, `preset ${preset}`);
            document = doc;
          } else {
            const text = await readBody(req);
            if (text.trim() === '')
              throw new HttpError(400, 'empty_body', 'send a LinkProfile (YAML or JSON), or ?preset=NAME');
            topology = parseProfileText(text, 'request body');
            document = text;
          }
        } catch (err) {
          if (err instanceof ProfileError) {
            m.profileChanges.inc({ outcome: 'rejected' });
            throw new HttpError(
              400,
              'invalid_profile',
              `${err.message}\nthe profile in force (${proxy.topology.name}) is unchanged`,
              { problems: err.problems },
            );
          }
          throw err;
        }
        const applied = proxy.setTopology(topology, document);
        if (!applied.ok) {
          m.profileChanges.inc({ outcome: 'rejected' });
          throw new HttpError(
            400,
            'profile_does_not_fit_routes',
            `${applied.problems.map((p) => p.message).join('; ')}; the profile in force (${proxy.topology.name}) is unchanged`,
            { problems: applied.problems },
          );
        }
        m.profileChanges.inc({ outcome: 'applied' });
        proxy.options.log('info', 'profile applied', { profile: topology.name });
        return send(res, 200, { profile: topology.name, topology: describeTopology(topology) });
      }
    }
    if (path === '/api/v1/links' && method === 'GET') {
      return send(res, 200, { profile: proxy.topology.name, routes: proxy.describe() });
    }
    if (path === '/api/v1/faults') {
      if (method === 'GET') return send(res, 200, { faults: proxy.listFaults(), types: FAULT_HELP });
      if (method === 'DELETE') {
        for (const f of proxy.listFaults()) await proxy.clearFault(f.link);
        return send(res, 200, { faults: [] });
      }
    }
    const fault = /^\/api\/v1\/faults\/([^/]+)$/.exec(path);
    if (fault) {
      const link = decodeURIComponent(fault[1] as string);
      if (!proxy.hasLink(link)) {
        throw new HttpError(
          404,
          'unknown_link',
          `no link "${link}" in profile ${proxy.topology.name}; links: ${[...new Set(proxy.topology.links.map((l) => l.link))].join(', ')}`,
        );
      }
      if (method === 'PUT') {
        let body: { type?: unknown };
        try {
          body = JSON.parse(await readBody(req)) as { type?: unknown };
        } catch {
          throw new HttpError(400, 'bad_json', 'send JSON such as {"type": "reset"}');
        }
        if (!FAULT_TYPES.includes(body?.type as FaultType)) {
          throw new HttpError(
            400,
            'bad_fault',
            `"type" must be one of ${FAULT_TYPES.join(', ')}, got ${JSON.stringify(body?.type)}`,
            { types: FAULT_HELP },
          );
        }
        await proxy.setFault(link, body.type as FaultType);
        return send(res, 200, { faults: proxy.listFaults() });
      }
      if (method === 'DELETE') {
        const cleared = await proxy.clearFault(link);
        return send(res, 200, { cleared, faults: proxy.listFaults() });
      }
    }
    throw new HttpError(
      404,
      'not_found',
      `no route ${method} ${path}; see GET /api/v1/links, /api/v1/profile`,
    );
  };

  return http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        send(res, err.status, { error: { code: err.code, message: err.message, ...err.extra } });
      } else {
        proxy.options.log('error', 'admin request failed', { error: (err as Error).message });
        send(res, 500, { error: { code: 'internal', message: (err as Error).message } });
      }
    });
  });
}
