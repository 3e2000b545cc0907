// Where users reach Grafana and Prometheus. On kind, the Services are NodePorts that k8s/kind/cluster.yaml maps
// to 127.0.0.1 ports; the URL is read from both (no port written twice). Elsewhere (the cluster overlay: plain
// ClusterIP Services), the answer is a `kubectl port-forward` command.
import type { V1Service } from '@kubernetes/client-node';
import { parse } from 'yaml';

export const UI_SERVICES = ['grafana', 'prometheus'] as const;

export interface PortMapping {
  containerPort: number;
  hostPort: number;
  listenAddress: string;
}

/** Every extraPortMapping of every node in a kind cluster config. */
export function kindPortMappings(kindConfigText: string): PortMapping[] {
  const config = parse(kindConfigText) as {
    nodes?: Array<{ extraPortMappings?: Array<Partial<PortMapping>> }>;
  };
  return (config?.nodes ?? []).flatMap((n) =>
    (n.extraPortMappings ?? []).map((m) => ({
      containerPort: Number(m.containerPort),
      hostPort: Number(m.hostPort),
      listenAddress: m.listenAddress ?? '0.0.0.0',
    })),
  );
}

export interface UiAccess {
  name: string;
  url?: string;
  /** When no URL is reachable directly: the command that makes one. */
  howTo?: string;
}

export function uiAccess(service: V1Service | undefined, name: string, mappings: PortMapping[]): UiAccess {
  const port = service?.spec?.ports?.[0];
  if (!service || !port) return { name, howTo: `Service mec-testbed/${name} not found (is the testbed up?)` };
  const mapping = port.nodePort ? mappings.find((m) => m.containerPort === port.nodePort) : undefined;
  if (mapping) {
    const host = mapping.listenAddress === '0.0.0.0' ? '127.0.0.1' : mapping.listenAddress;
    return { name, url: `http://${host}:${mapping.hostPort}` };
  }
  return {
    name,
    url: `http://127.0.0.1:${port.port}`,
    howTo: `kubectl port-forward -n mec-testbed svc/${name} ${port.port}:${port.port}`,
  };
}

export function formatUrls(access: UiAccess[]): string {
  return access
    .map((a) => {
      const label = a.name === 'grafana' ? 'Grafana   ' : a.name === 'prometheus' ? 'Prometheus' : a.name;
      if (a.url && !a.howTo) return `  ${label} ${a.url}`;
      if (a.url) return `  ${label} ${a.url}  (after: ${a.howTo})`;
      return `  ${label} ${a.howTo}`;
    })
    .join('\n');
}
