// A kind-like cluster with real netem: the host runs a real control plane (test/support/kube.ts) and the VM
// (vm.ts); inside the VM every node is a network namespace (sites.ts) and every site node runs the link agent
// itself (services/link-agent/main.ts, its real dependencies), with the agent's own RBAC and a token of its
// service account, reaching the API server at the control-plane node's address, as on kind. This file starts
// and stops all of it and offers the few operations measurements need; what is measured lives in fidelity.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import {
  type AgentStatus,
  NAMESPACE,
  PROFILE_CONFIGMAP,
  PROFILE_KEY,
  parseStatus,
  statusConfigMapName,
} from '../../services/link-agent/status.ts';
import { PRESETS } from '../../services/topology/index.ts';
import {
  type ControlPlane,
  eventually,
  serverSideApply,
  startControlPlane,
} from '../../test/support/kube.ts';
import type { TrafficReport, TrafficRequest } from './guest/traffic.ts';
import { API_PORT, clusterLayout, nodeObjects, type VmNode, wiringCommands, wiringScript } from './sites.ts';
import { type GuestProcess, NetemVm, repoRoot } from './vm.ts';

export const AGENT = 'services/link-agent/main.ts';
const RELAY = 'hack/netem-vm/guest/relay.ts';
const TRAFFIC = 'hack/netem-vm/guest/traffic.ts';
const NODE = '/usr/local/bin/node';
const API_SOCKET = '/run/netem-vm/api.sock';
const KUBECONFIG = '/run/netem-vm/link-agent.kubeconfig';
export const DEVICE = 'eth0';

/** The link profile ConfigMap's text for a preset (or any profile document, or raw text). */
export function profileText(profile: string | object): string {
  if (typeof profile === 'string') return PRESETS[profile] ? stringify(PRESETS[profile]) : profile;
  return stringify(profile);
}

interface RunningAgent {
  process: GuestProcess;
  log: string[];
}

interface Traffic {
  process: GuestProcess;
  waiting: Map<number, (r: TrafficReport) => void>;
  received: Array<Extract<TrafficReport, { event: 'received' }>>;
}

export interface TestbedOptions {
  sites?: readonly string[];
  /** The preset (or profile) the ConfigMap holds before the agents start. */
  profile?: string | object;
  log?: (message: string) => void;
  cpus?: number;
}

export class VmTestbed {
  readonly vm: NetemVm;
  readonly cp: ControlPlane;
  readonly nodes: VmNode[];
  readonly #core: CoreV1Api;
  readonly #log: (m: string) => void;
  readonly #agents = new Map<string, RunningAgent>();
  readonly #traffic = new Map<string, Traffic>();
  #nextTrafficId = 1;

  private constructor(vm: NetemVm, cp: ControlPlane, nodes: VmNode[], log: (m: string) => void) {
    this.vm = vm;
    this.cp = cp;
    this.nodes = nodes;
    this.#core = cp.kc.makeApiClient(CoreV1Api);
    this.#log = log;
  }

  /** Boots the VM and the control plane side by side, wires the cluster, starts the traffic helpers. */
  static async start(options: TestbedOptions = {}): Promise<VmTestbed> {
    const log = options.log ?? (() => {});
    const nodes = clusterLayout(options.sites ?? ['ue', 'edge', 'cloud']);
    const [vm, cp] = await Promise.allSettled([
      NetemVm.start({
        entries: [AGENT, RELAY, TRAFFIC],
        ...(options.cpus ? { cpus: options.cpus } : {}),
        onProgress: (m) => log(`vm ${m}`),
      }),
      startControlPlane(),
    ]);
    if (vm.status === 'rejected' || cp.status === 'rejected') {
      if (vm.status === 'fulfilled') await vm.value.stop();
      if (cp.status === 'fulfilled') await cp.value.stop();
      throw vm.status === 'rejected' ? vm.reason : (cp as PromiseRejectedResult).reason;
    }
    const testbed = new VmTestbed(vm.value, cp.value, nodes, log);
    try {
      log(`vm up (${vm.value.kernel}, guest uptime ${vm.value.bootSeconds} s); control plane ready`);
      await testbed.#setUpCluster(options.profile ?? '5g-mec');
      await testbed.#setUpNetwork();
      log('cluster wired; traffic helpers running');
    } catch (err) {
      await testbed.stop();
      throw err;
    }
    return testbed;
  }

  async #setUpCluster(profile: string | object): Promise<void> {
    await serverSideApply(this.cp.kc, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
    // The agent's RBAC exactly as the manifests declare it.
    const manifest = readFileSync(join(repoRoot, 'k8s/base/link-agent.yaml'), 'utf8');
    for (const doc of parseAllDocuments(manifest)) {
      const obj = doc.toJS() as KubernetesObject | null;
      const rbac = ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'];
      if (obj && rbac.includes(obj.kind ?? '')) await serverSideApply(this.cp.kc, obj);
    }
    for (const node of nodeObjects(this.nodes)) await this.#core.createNode({ body: node });
    await this.setProfile(profile);
  }

  async #setUpNetwork(): Promise<void> {
    await this.vm.writeFile('/run/netem-vm/wire.sh', wiringScript(wiringCommands(this.nodes)));
    await this.vm.run(['/bin/sh', '-x', '/run/netem-vm/wire.sh']);
    // The API server at the control-plane node's address: a relay from there to a socket, one from the socket
    // to the host (only the VM's own namespace reaches qemu's user network).
    const server = new URL(this.cp.kc.getCurrentCluster()?.server ?? '');
    const controlPlane = this.nodes.find((n) => n.controlPlane) as VmNode;
    await this.#startRelay([`unix:${API_SOCKET}`, `10.0.2.2:${server.port}`]);
    await this.#startRelay([`${controlPlane.address}:${API_PORT}`, `unix:${API_SOCKET}`], controlPlane.name);
    const kc = await this.cp.serviceAccountKubeConfig(NAMESPACE, 'link-agent');
    const token = kc.getCurrentUser()?.token;
    const ca = this.cp.kc.getCurrentCluster()?.caData;
    if (!token || !ca) throw new Error('no service-account token or CA data for the agents');
    const kubeconfig = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'netem-vm',
          cluster: {
            server: `https://${controlPlane.address}:${API_PORT}`,
            'certificate-authority-data': ca,
            // The API server's certificate names kubernetes, not the control-plane node's address here.
            'tls-server-name': 'kubernetes',
          },
        },
      ],
      users: [{ name: 'link-agent', user: { token } }],
      contexts: [{ name: 'netem-vm', context: { cluster: 'netem-vm', user: 'link-agent' } }],
      'current-context': 'netem-vm',
    };
    await this.vm.writeFile(KUBECONFIG, JSON.stringify(kubeconfig), 0o600);
    await Promise.all(this.sites().map((n) => this.#startTraffic(n)));
  }

  async #startRelay(args: string[], netns?: string): Promise<void> {
    let ready: () => void = () => {};
    const listening = new Promise<void>((r) => {
      ready = r;
    });
    const child = this.vm.spawn([NODE, join(repoRoot, RELAY), ...args], {
      ...(netns ? { netns } : {}),
      onLine: (line) => {
        if (line.startsWith('relay:')) ready();
        else this.#log(`relay ${netns ?? 'vm'}: ${line}`);
      },
    });
    await Promise.race([
      listening,
      child.exited.then((r) => {
        throw new Error(`relay ${args.join(' ')} exited (${r.code}): ${r.stderr}`);
      }),
    ]);
  }

  async #startTraffic(node: VmNode): Promise<void> {
    const traffic: Traffic = { process: undefined as never, waiting: new Map(), received: [] };
    let ready: () => void = () => {};
    const up = new Promise<void>((r) => {
      ready = r;
    });
    traffic.process = this.vm.spawn([NODE, join(repoRoot, TRAFFIC)], {
      netns: node.name,
      stdin: true,
      onLine: (line, stream) => {
        if (stream === 'stderr') return this.#log(`traffic ${node.name}: ${line}`);
        const r = JSON.parse(line) as TrafficReport;
        if (r.event === 'ready') ready();
        else if (r.event === 'received') traffic.received.push(r);
        else traffic.waiting.get(r.id)?.(r);
      },
    });
    this.#traffic.set(node.name, traffic);
    await Promise.race([
      up,
      traffic.process.exited.then((r) => {
        throw new Error(`traffic helper in ${node.name} exited (${r.code}): ${r.stderr}`);
      }),
    ]);
  }

  /** The site nodes (the control plane has no agent). */
  sites(): VmNode[] {
    return this.nodes.filter((n) => !n.controlPlane);
  }

  node(site: string): VmNode {
    const n = this.nodes.find((x) => x.site === site);
    if (!n) throw new Error(`no node for site ${site}`);
    return n;
  }

  controlPlane(): VmNode {
    return this.nodes.find((n) => n.controlPlane) as VmNode;
  }

  async setProfile(profile: string | object): Promise<void> {
    await serverSideApply(this.cp.kc, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: PROFILE_CONFIGMAP, namespace: NAMESPACE },
      data: { [PROFILE_KEY]: profileText(profile) },
    });
  }

  async status(node: string): Promise<AgentStatus | undefined> {
    try {
      return parseStatus(
        await this.#core.readNamespacedConfigMap({ name: statusConfigMapName(node), namespace: NAMESPACE }),
      );
    } catch {
      return undefined;
    }
  }

  /** Starts the link agent in each node's namespace (default: every site node). */
  startAgents(nodes: readonly VmNode[] = this.sites()): void {
    for (const node of nodes) {
      const log: string[] = [];
      const process = this.vm.spawn([NODE, join(repoRoot, AGENT)], {
        netns: node.name,
        env: { NODE_NAME: node.name, KUBECONFIG, POD_NAMESPACE: NAMESPACE, INTERFACE: DEVICE },
        onLine: (line) => log.push(line),
      });
      this.#agents.set(node.name, { process, log });
    }
  }

  /** Resolves once every running agent reports being in sync with `profile`. */
  async agentsInSync(profile: string, timeoutMs = 300_000): Promise<AgentStatus[]> {
    return eventually(
      async () => {
        const all = await Promise.all([...this.#agents.keys()].map((n) => this.status(n)));
        return all.every((s) => s?.inSync && s.profile === profile && s.plan.length > 0)
          ? (all as AgentStatus[])
          : undefined;
      },
      { timeoutMs, intervalMs: 200, what: `every agent in sync with ${profile}` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.agentLogs()}`);
    });
  }

  /** Sends SIGTERM to one agent and waits for it to exit; resolves to its exit code. */
  async stopAgent(node: string): Promise<number | null> {
    const agent = this.#agents.get(node);
    if (!agent) throw new Error(`no agent runs on ${node}`);
    agent.process.kill('SIGTERM');
    // The agent's own guard exits it after SHUTDOWN_TIMEOUT_SECONDS (10); this is for an agent that hangs anyway.
    const guard = setTimeout(() => agent.process.kill('SIGKILL'), 60_000);
    const result = await agent.process.exited;
    clearTimeout(guard);
    this.#agents.delete(node);
    return result.code;
  }

  agentLog(node: string): string[] {
    return this.#agents.get(node)?.log ?? [];
  }

  agentLogs(): string {
    return [...this.#agents].map(([name, a]) => `--- ${name}\n${a.log.slice(-20).join('\n')}`).join('\n');
  }

  /**
   * Everything tc shows in a node's namespace (qdiscs of every device; classes and filters of eth0 and the pod
   * veth), without statistics: two snapshots are equal when nothing was added, changed or left behind.
   */
  async tcSnapshot(netns: string): Promise<string> {
    // htb reports how many packets it sent unclassified among its options: a counter, not configuration.
    const qdiscs = JSON.parse(await this.vm.run(['/sbin/tc', '-j', 'qdisc', 'show'], { netns })) as Array<{
      options?: Record<string, unknown>;
    }>;
    for (const q of qdiscs) delete q.options?.direct_packets_stat;
    const parts = [JSON.stringify(qdiscs)];
    for (const dev of [DEVICE, 'vpod'])
      for (const what of ['class', 'filter'])
        parts.push(
          `${what} ${dev}: ${await this.vm.run(['/sbin/tc', '-j', what, 'show', 'dev', dev], { netns })}`,
        );
    return parts.join('\n');
  }

  /** `tc -s -j <args>` in a node's namespace, parsed. */
  async tcJson(netns: string, args: string[]): Promise<Array<Record<string, unknown>>> {
    return JSON.parse((await this.vm.run(['/sbin/tc', '-s', '-j', ...args], { netns })) || '[]');
  }

  #trafficRequest(
    node: string,
    req: TrafficRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never,
  ): Promise<TrafficReport> {
    const traffic = this.#traffic.get(node);
    if (!traffic) throw new Error(`no traffic helper in ${node}`);
    const id = this.#nextTrafficId++;
    return new Promise((resolveRequest) => {
      traffic.waiting.set(id, (r) => {
        traffic.waiting.delete(id);
        resolveRequest(r);
      });
      traffic.process.input(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /**
   * A bulk TCP transfer for `seconds` to one of `to`'s addresses (default its node IP); resolves to the goodput
   * the receiver saw, in bits per second.
   */
  async bulk(from: VmNode, to: VmNode, seconds: number, address = to.address): Promise<number> {
    const sink = this.#traffic.get(to.name) as Traffic;
    const before = sink.received.length;
    const sent = await this.#trafficRequest(from.name, { op: 'bulk', to: address, seconds });
    if (sent.event === 'failed') throw new Error(`bulk ${from.name} → ${to.name}: ${sent.error}`);
    const got = await eventually(() => sink.received.slice(before).find((r) => r.from === from.address), {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: `the sink in ${to.name} to report the transfer`,
    });
    return (got.bytes * 8) / got.seconds;
  }

  /** `count` UDP datagrams of `size` bytes at `pps` from one node to an address; resolves to how many left. */
  async blast(from: VmNode, to: string, count: number, pps: number, size = 64): Promise<number> {
    const r = await this.#trafficRequest(from.name, { op: 'blast', to, count, pps, size });
    if (r.event !== 'blasted') throw new Error(`blast ${from.name} → ${to}: ${JSON.stringify(r)}`);
    return r.count;
  }

  /** Stops the agents (SIGTERM), the helpers, the VM and the control plane. */
  async stop(): Promise<void> {
    for (const name of [...this.#agents.keys()]) await this.stopAgent(name).catch(() => undefined);
    await this.vm.stop().catch(() => undefined);
    await this.cp.stop().catch(() => undefined);
  }
}
