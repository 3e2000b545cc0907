// The proxy's admin API, served through the skeleton's HTTP layer like every other process (JSON errors, bounded
// waits and bodies). It shares the event loop with the traffic the proxy delays, so a control request's cost is
// bounded before it is parsed: a small body limit, bounded waits, and a profile parsed off the event loop in a
// worker with a time and memory bound (admin-profile.ts).
//   GET  /healthz, /readyz, /metrics
//   GET  /api/v1/profile                 the profile in force (document and resolved topology)
//   PUT  /api/v1/profile                 body: a LinkProfile in YAML or JSON; or ?preset=NAME with no body.
//                                        Validated with the topology model; a bad one is answered 400 with
//                                        every located problem and the old profile stays in force.
//   GET  /api/v1/links                   routes, the links they cross, configured paths and counters
//   GET  /api/v1/faults                  faults in force
//   PUT  /api/v1/faults/{link}           body {"type": "reset" | "timeout" | "refuse"}
//   DELETE /api/v1/faults/{link}, DELETE /api/v1/faults
import type http from 'node:http';
import type { Request, Response } from 'express';
import {
  clip,
  createHttpApp,
  createHttpServer,
  HttpError,
  type HttpRoute,
  type Logger,
} from '../skeleton/index.ts';
import {
  formatDuration,
  formatLoss,
  formatRate,
  PRESET_NAMES,
  PRESETS,
  ProfileError,
  type Topology,
  topologyFrom,
} from '../topology/index.ts';
import { parseProfileOffLoop } from './admin-profile.ts';
import { FAULT_HELP, FAULT_TYPES, type FaultType, type LinkProxy } from './proxy.ts';
import type { Log } from './service.ts';

/** A profile is a few KiB (the largest preset is under 2); this leaves room for many sites and comments. */
export const MAX_PROFILE_BYTES = 64 * 1024;
/** Fault bodies are one small JSON object. */
const MAX_FAULT_BYTES = 1024;
/** The bounds on a control connection: idle, headers, whole request (a profile upload included). */
export const ADMIN_LIMITS = { idleTimeoutSeconds: 10, headersTimeoutSeconds: 5, requestTimeoutSeconds: 10 };
/** A rejected profile's answer lists at most this many problems (the count says how many there were). */
const MAX_PROBLEMS = 50;

/** What curl and scripts send a document as: YAML, JSON, text, curl -d's default, or nothing. */
const PROFILE_TYPES = [
  '',
  'application/yaml',
  'application/x-yaml',
  'text/yaml',
  'text/x-yaml',
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
];
const FAULT_BODY_TYPES = ['', 'application/json', 'text/plain', 'application/x-www-form-urlencoded'];

function send(res: Response, status: number, body: unknown) {
  res
    .status(status)
    .type('application/json')
    .send(`${JSON.stringify(body, null, 2)}\n`);
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

/** The proxy's log function as the skeleton's Logger (the proxy has no debug level). */
function asLogger(log: Log, bound: Record<string, unknown> = {}): Logger {
  const at = (level: 'info' | 'warn' | 'error') => (msg: string, fields?: Record<string, unknown>) =>
    log(level, msg, { ...bound, ...fields });
  return {
    debug: () => {},
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => asLogger(log, { ...bound, ...fields }),
  };
}

export function createAdminServer(
  proxy: LinkProxy,
  hooks: { ready: () => boolean; metrics: () => Promise<{ contentType: string; body: string }> },
): http.Server {
  const m = proxy.options.metrics;
  const log = asLogger(proxy.options.log, { component: 'admin' });

  const rejected = (message: string, code: string, problems: Array<{ path: string; message: string }>) => {
    m.profileChanges.inc({ outcome: 'rejected' });
    return new HttpError(
      400,
      code,
      `${clip(message, 4000)}\nthe profile in force (${proxy.topology.name}) is unchanged`,
      {
        details: {
          problems: problems
            .slice(0, MAX_PROBLEMS)
            .map((p) => ({ path: clip(p.path), message: clip(p.message, 300) })),
          problemCount: problems.length,
        },
      },
    );
  };

  const putProfile = async (req: Request, res: Response) => {
    const preset = req.query.preset;
    let topology: Topology;
    let document: unknown;
    try {
      if (preset !== undefined) {
        const doc = typeof preset === 'string' ? PRESETS[preset] : undefined;
        if (!doc) {
          throw new ProfileError('?preset', [
            { path: '', message: `is not a preset; presets: ${PRESET_NAMES.join(', ')}` },
          ]);
        }
        topology = topologyFrom(doc, `preset ${preset}`);
        document = doc;
      } else {
        const text = (req.body as Buffer).toString('utf8');
        if (text.trim() === '')
          throw new HttpError(400, 'empty_body', 'send a LinkProfile (YAML or JSON), or ?preset=NAME');
        topology = await parseProfileOffLoop(text, 'request body');
        document = text;
      }
    } catch (err) {
      if (err instanceof ProfileError) throw rejected(err.message, 'invalid_profile', err.problems);
      throw err;
    }
    const applied = proxy.setTopology(topology, document);
    if (!applied.ok) {
      throw rejected(
        applied.problems.map((p) => p.message).join('; '),
        'profile_does_not_fit_routes',
        applied.problems,
      );
    }
    m.profileChanges.inc({ outcome: 'applied' });
    proxy.options.log('info', 'profile applied', { profile: topology.name });
    send(res, 200, { profile: topology.name, topology: describeTopology(topology) });
  };

  const knownLink = (req: Request): string => {
    const link = req.params.link as string;
    if (proxy.hasLink(link)) return link;
    throw new HttpError(
      404,
      'unknown_link',
      `no link "${clip(link, 60)}" in profile ${proxy.topology.name}; links: ${[...new Set(proxy.topology.links.map((l) => l.link))].join(', ')}`,
    );
  };

  const routes: HttpRoute[] = [
    { method: 'GET', path: '/healthz', handler: (_req, res) => send(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      handler: (_req, res) =>
        hooks.ready() ? send(res, 200, { status: 'ready' }) : send(res, 503, { status: 'starting' }),
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async (_req, res) => {
        const { contentType, body } = await hooks.metrics();
        res.type(contentType).send(body);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/profile',
      handler: (_req, res) =>
        send(res, 200, { document: proxy.profileDocument, topology: describeTopology(proxy.topology) }),
    },
    {
      method: 'PUT',
      path: '/api/v1/profile',
      body: { types: PROFILE_TYPES, limit: MAX_PROFILE_BYTES },
      handler: putProfile,
    },
    {
      method: 'GET',
      path: '/api/v1/links',
      handler: (_req, res) => send(res, 200, { profile: proxy.topology.name, routes: proxy.describe() }),
    },
    {
      method: 'GET',
      path: '/api/v1/faults',
      handler: (_req, res) => send(res, 200, { faults: proxy.listFaults(), types: FAULT_HELP }),
    },
    {
      method: 'DELETE',
      path: '/api/v1/faults',
      handler: async (_req, res) => {
        for (const f of proxy.listFaults()) await proxy.clearFault(f.link);
        send(res, 200, { faults: [] });
      },
    },
    {
      method: 'PUT',
      path: '/api/v1/faults/:link',
      body: { types: FAULT_BODY_TYPES, limit: MAX_FAULT_BYTES },
      handler: async (req, res) => {
        const link = knownLink(req);
        let body: { type?: unknown };
        try {
          body = JSON.parse((req.body as Buffer).toString('utf8')) as { type?: unknown };
        } catch {
          throw new HttpError(400, 'bad_json', 'send JSON such as {"type": "reset"}');
        }
        if (!FAULT_TYPES.includes(body?.type as FaultType)) {
          throw new HttpError(
            400,
            'bad_fault',
            `"type" must be one of ${FAULT_TYPES.join(', ')}, got ${clip(JSON.stringify(body?.type) ?? 'nothing', 60)}`,
            { details: { types: FAULT_HELP } },
          );
        }
        await proxy.setFault(link, body.type as FaultType);
        send(res, 200, { faults: proxy.listFaults() });
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/faults/:link',
      handler: async (req, res) => {
        const cleared = await proxy.clearFault(knownLink(req));
        send(res, 200, { cleared, faults: proxy.listFaults() });
      },
    },
  ];

  const app = createHttpApp({
    log,
    routes,
    maxBodyBytes: MAX_FAULT_BYTES,
    accessLog: 'errors',
    routesHint: 'see GET /api/v1/links, /api/v1/profile',
  });
  return createHttpServer(app, ADMIN_LIMITS, { log });
}
