// Where users reach Grafana and Prometheus. On kind, the Services are NodePorts that the kind config maps to
// 127.0.0.1 ports (GRAFANA_PORT, PROMETHEUS_PORT); `make up` records the ports Docker really publishes on the
// control-plane node (HOST_PORTS_ANNOTATION), and k8s/kind/cluster.yaml's defaults stand in when that is absent.
// Elsewhere (the cluster overlay: plain ClusterIP Services), the answer is a `kubectl port-forward` command.
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

/** Written by hack/testbed/cluster.sh: "30300=127.0.0.1:3000,30090=127.0.0.1:9090" (node port = published address). */
export const HOST_PORTS_ANNOTATION = 'mec-testbed.dev/host-ports';

export function hostPortsAnnotation(value: string | undefined): PortMapping[] {
  const mappings: PortMapping[] = [];
  for (const entry of (value ?? '').split(',')) {
    const m = /^(\d+)=(.+):(\d+)$/.exec(entry.trim());
    if (m)
      mappings.push({
        containerPort: Number(m[1]),
        listenAddress: m[2] as string,
        hostPort: Number(m[3]),
      });
  }
  return mappings;
}

export interface UiAccess {
  name: string;
  url?: string;
  /** When no URL is reachable directly: the command that makes one. */
  howTo?: string;
}

/** `headless`: the testbed runs without Grafana on purpose (make up GRAFANA=off). */
export function uiAccess(
  service: V1Service | undefined,
  name: string,
  mappings: PortMapping[],
  headless = false,
): UiAccess {
  const port = service?.spec?.ports?.[0];
  if ((!service || !port) && headless && name === 'grafana')
    return { name, howTo: 'not deployed (headless testbed: make up GRAFANA=on adds it)' };
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
