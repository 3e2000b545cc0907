// The Docker-free testbed's wiring, as pure functions: its ports (DEV_* variables), the processes with their
// environment, the order they stop in, and the request budget it prints. Tested without spawning anything.
//
//   UE (you, curl, k6)                      link proxy (userspace)                   services (raw ports)
//   http://127.0.0.1:8081 ──ue->edge──────▶ [ue-edge] ──────────────────────────▶ edge  127.0.0.1:9081
//   http://127.0.0.1:8082 ──ue->cloud─────▶ [ue-edge]─[edge-cloud] ─────────────▶ cloud 127.0.0.1:9082
//   edge's CLOUD_URL 127.0.0.1:9181 ─edge->cloud─▶ [edge-cloud] ────────────────▶ cloud 127.0.0.1:9082
import {
  formatDuration,
  requestBudget,
  siteProcessEnv,
  type Topology,
} from '../../services/topology/index.ts';

export interface DevPorts {
  edge: number; // UE-facing, through ue->edge
  cloud: number; // UE-facing, through ue->cloud
  edgeRaw: number;
  cloudRaw: number;
  edgeToCloud: number; // the edge's CLOUD_URL, through edge->cloud
  admin: number; // the proxy's admin API
}

export const DEFAULT_PORTS: DevPorts = {
  edge: 8081,
  cloud: 8082,
  edgeRaw: 9081,
  cloudRaw: 9082,
  edgeToCloud: 9181,
  admin: 8474,
};

export const PORT_VARS: Record<keyof DevPorts, string> = {
  edge: 'DEV_EDGE_PORT',
  cloud: 'DEV_CLOUD_PORT',
  edgeRaw: 'DEV_EDGE_RAW_PORT',
  cloudRaw: 'DEV_CLOUD_RAW_PORT',
  edgeToCloud: 'DEV_EDGE_CLOUD_PORT',
  admin: 'DEV_ADMIN_PORT',
};

/** Which process listens on each port, and what for: the words an error about that port uses. */
export const PORT_OWNERS: Record<keyof DevPorts, { process: DevProcessName; role: string }> = {
  edge: { process: 'proxy', role: "the link proxy's ue->edge listener (the edge as the UE reaches it)" },
  cloud: { process: 'proxy', role: "the link proxy's ue->cloud listener (the cloud as the UE reaches it)" },
  edgeRaw: { process: 'edge', role: "the edge service's own port" },
  cloudRaw: { process: 'cloud', role: "the cloud service's own port" },
  edgeToCloud: { process: 'proxy', role: "the link proxy's edge->cloud listener (the edge's CLOUD_URL)" },
  admin: { process: 'proxy', role: "the link proxy's admin API and metrics" },
};

/** Ports from the environment, validated: every bad one is named at once. Pure. */
export function devPorts(env: Readonly<Record<string, string | undefined>>): {
  ports: DevPorts;
  errors: string[];
} {
  const ports = { ...DEFAULT_PORTS };
  const errors: string[] = [];
  for (const [key, name] of Object.entries(PORT_VARS) as Array<[keyof DevPorts, string]>) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    const n = Number(raw);
    if (/^\d+$/.test(raw) && n >= 1 && n <= 65535) ports[key] = n;
    else errors.push(`${name}=${JSON.stringify(raw)} is invalid: expected a port from 1 to 65535`);
  }
  errors.push(...portClashes(ports));
  return { ports, errors };
}

/** Two services on one port, named by their variables. */
export function portClashes(ports: DevPorts): string[] {
  const byPort = new Map<number, string[]>();
  for (const [key, port] of Object.entries(ports) as Array<[keyof DevPorts, number]>)
    byPort.set(port, [...(byPort.get(port) ?? []), PORT_VARS[key]]);
  return [...byPort]
    .filter(([, vars]) => vars.length > 1)
    .map(([port, vars]) => `${vars.join(' and ')} are both ${port}: each service needs a port of its own`);
}

export type DevProcessName = 'cloud' | 'edge' | 'proxy';

export interface DevProcess {
  name: DevProcessName;
  script: string;
  env: Record<string, string>;
}

/** Seconds each service may take to finish its requests in flight once told to stop. */
export const DRAIN_SECONDS = 5;

/** The processes `make dev` runs, in start order, with their environment; each service gets its site's cores
 * from the profile (its worker pool's size). Pure. */
export function devProcesses(
  ports: DevPorts,
  profile: string,
  env: Readonly<Record<string, string | undefined>>,
  topology: Topology,
): DevProcess[] {
  const common = {
    HOST: '127.0.0.1',
    LOG_LEVEL: env.LOG_LEVEL ?? 'info',
    SHUTDOWN_TIMEOUT_SECONDS: String(DRAIN_SECONDS),
  };
  const routes = [
    `127.0.0.1:${ports.edge}=ue->edge=127.0.0.1:${ports.edgeRaw}`,
    `127.0.0.1:${ports.cloud}=ue->cloud=127.0.0.1:${ports.cloudRaw}`,
    `127.0.0.1:${ports.edgeToCloud}=edge->cloud=127.0.0.1:${ports.cloudRaw}`,
  ];
  return [
    {
      name: 'cloud',
      script: 'services/cloud/main.ts',
      env: { ...common, PORT: String(ports.cloudRaw), ...siteProcessEnv(topology, 'cloud') },
    },
    {
      name: 'edge',
      script: 'services/edge/main.ts',
      env: {
        ...common,
        PORT: String(ports.edgeRaw),
        CLOUD_URL: `http://127.0.0.1:${ports.edgeToCloud}`,
        ...siteProcessEnv(topology, 'edge'),
      },
    },
    {
      name: 'proxy',
      script: 'services/link-proxy/main.ts',
      env: {
        ...common,
        PROFILE: profile,
        ROUTES: routes.join(','),
        ADMIN_HOST: '127.0.0.1',
        ADMIN_PORT: String(ports.admin),
      },
    },
  ];
}

/**
 * The order a stop drains them in. A TCP proxy cannot tell a request waiting for its response from an idle
 * connection, so it must outlive the services: the edge first (its requests in flight may still fetch from the
 * cloud through the proxy), then the cloud, then the proxy, which by then only forwards the services' FINs.
 */
export const STOP_ORDER: readonly DevProcessName[] = ['edge', 'cloud', 'proxy'];

/** What the profile predicts the UE will see: the budget users should compare their measurements with. */
export function budgetLines(t: Topology): string[] {
  const ms = (s: number) => formatDuration(s);
  return (['edge', 'cloud'] as const).map((site) => {
    const b = requestBudget(t, 'ue', site);
    return `  ue -> ${site.padEnd(5)} one way ${ms(b.oneWaySeconds)}, round trip ${ms(b.roundTripSeconds)}; a request costs ${ms(b.reusedConnectionSeconds)} on a reused connection, ${ms(b.newConnectionSeconds)} on a new one (+ processing)`;
  });
}
