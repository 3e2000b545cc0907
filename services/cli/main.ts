// mec-testbed's CLI: `node services/cli/main.ts <command>` (the Makefile calls it). Commands:
//   wait [--timeout s]      wait until every workload is ready, with progress; on timeout, each pod's reason
//   status                  nodes and sites, pods, the profile each link agent applied, netem per node, URLs
//   profile <name|file>     validate a link profile, then server-side apply it (an invalid one is refused)
//   profile-text <name|file> validate a link profile and print the text the ConfigMaps hold (make up renders it)
//   netem [--timeout s]     wait for the link agents' reports and say whether netem works on every site node
//   ensure-secrets          create the Grafana admin Secret with a random password unless it exists
//   urls                    print the Grafana and Prometheus URLs
//   prediction [name|file]  the load test's prediction (JSON, for MEC_PREDICTION) for the profile in force, or the
//                           one named
// Global: --context <kube context> (default: the kubeconfig's current context).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { V1Service } from '@kubernetes/client-node';
import type { Prediction } from '../../loadtest/lib/plan.ts';
import { predictionOf } from '../../loadtest/node/predictions.ts';
import { PRESET_NAMES, ProfileError } from '../topology/index.ts';
import {
  type Cluster,
  connect,
  connectionProblem,
  ensureGrafanaSecret,
  NAMESPACES,
  readConfigMap,
  serverSideApply,
  UserError,
} from './kube.ts';
import { PROFILE_CONFIGMAP, prepareProfile, profileConfigMap, profileInConfigMap } from './link-profile.ts';
import {
  assess,
  daemonSetState,
  deploymentState,
  progressLine,
  timeoutReport,
  type WorkloadState,
} from './readiness.ts';
import {
  AGENT_STATUS_PREFIX,
  agentReport,
  formatStatus,
  netemAdvice,
  netemProblems,
  SITE_LABEL,
} from './status.ts';
import {
  formatUrls,
  HOST_PORTS_ANNOTATION,
  hostPortsAnnotation,
  kindPortMappings,
  UI_SERVICES,
  uiAccess,
} from './urls.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KIND_CONFIG = `${ROOT}k8s/kind/cluster.yaml`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const print = (line: string) => process.stdout.write(`${line}\n`);

async function workloads(c: Cluster): Promise<WorkloadState[]> {
  const states: WorkloadState[] = [];
  for (const namespace of NAMESPACES) {
    const [deployments, daemonSets] = await Promise.all([
      c.apps.listNamespacedDeployment({ namespace }),
      c.apps.listNamespacedDaemonSet({ namespace }),
    ]);
    states.push(...deployments.items.map(deploymentState), ...daemonSets.items.map(daemonSetState));
  }
  return states;
}

async function pods(c: Cluster) {
  const lists = await Promise.all(NAMESPACES.map((namespace) => c.core.listNamespacedPod({ namespace })));
  return lists.flatMap((l) => l.items);
}

export async function waitReady(c: Cluster, timeoutSeconds: number, intervalSeconds: number): Promise<void> {
  const started = Date.now();
  let last = '';
  let lastPrinted = 0;
  for (;;) {
    const elapsed = (Date.now() - started) / 1000;
    const a = assess(await workloads(c), await pods(c));
    const total = a.ready.length + a.waiting.length;
    const line =
      total === 0
        ? `[${String(Math.round(elapsed)).padStart(4)}s] no workloads in ${NAMESPACES.join(', ')} yet`
        : progressLine(a, elapsed);
    // A line when something changed, and at least every 15 s so a slow start never looks hung.
    const changed = line.replace(/^\[\s*\d+s\] /, '') !== last.replace(/^\[\s*\d+s\] /, '');
    if (changed || elapsed - lastPrinted >= 15) {
      print(line);
      lastPrinted = elapsed;
    }
    last = line;
    if (total > 0 && a.waiting.length === 0) {
      print(`All ${total} workloads ready after ${Math.round(elapsed)}s.`);
      return;
    }
    if (elapsed >= timeoutSeconds) {
      throw new UserError(
        total === 0
          ? `Timed out after ${timeoutSeconds}s: nothing is deployed in ${NAMESPACES.join(', ')}; run \`make up\`.`
          : timeoutReport(a, timeoutSeconds),
      );
    }
    await sleep(intervalSeconds * 1000);
  }
}

async function uiAccessList(c: Cluster) {
  const controlPlanes = await c.core
    .listNode({ labelSelector: 'node-role.kubernetes.io/control-plane' })
    .catch(() => ({ items: [] }));
  let mappings = controlPlanes.items.flatMap((n) =>
    hostPortsAnnotation(n.metadata?.annotations?.[HOST_PORTS_ANNOTATION]),
  );
  if (mappings.length === 0) {
    try {
      mappings = kindPortMappings(readFileSync(KIND_CONFIG, 'utf8'));
    } catch {
      // Not in the repository (an installed CLI): NodePorts then resolve to port-forward hints.
    }
  }
  const services = await Promise.all(
    UI_SERVICES.map((name) =>
      c.core
        .readNamespacedService({ namespace: 'mec-testbed', name })
        .catch((): V1Service | undefined => undefined),
    ),
  );
  // Prometheus without Grafana: a headless testbed, not a missing one.
  const headless = services[UI_SERVICES.indexOf('prometheus')] !== undefined;
  return UI_SERVICES.map((name, i) => uiAccess(services[i], name, mappings, headless));
}

async function agentStatus(c: Cluster) {
  const list = await c.core.listNamespacedConfigMap({ namespace: PROFILE_CONFIGMAP.namespace });
  return list.items.filter((cm) => cm.metadata?.name?.startsWith(AGENT_STATUS_PREFIX));
}

export async function status(c: Cluster): Promise<string> {
  const [nodes, podList, agents, profileCm, ui] = await Promise.all([
    c.core.listNode(),
    pods(c),
    agentStatus(c),
    readConfigMap(c, PROFILE_CONFIGMAP.namespace, PROFILE_CONFIGMAP.name),
    uiAccessList(c),
  ]);
  const proxies = podList.filter((p) => p.metadata?.labels?.['app.kubernetes.io/name'] === 'link-proxy');
  return formatStatus({
    context: c.context,
    server: c.server,
    nodes: nodes.items,
    pods: podList,
    agentStatus: agents,
    ...(profileCm ? { profileConfigMap: profileCm } : {}),
    emulation: proxies.length ? 'proxy' : 'netem',
    ui,
  });
}

/** A profile file's text; a path that cannot be read is a ProfileError that lists the presets. */
function readProfileFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ProfileError(path, [
      {
        path: '',
        message: `is neither a preset (${PRESET_NAMES.join(', ')}) nor a readable file: ${(err as Error).message}`,
      },
    ]);
  }
}

/**
 * What `make load` judges a run against: the prediction of the profile named, or else of the one the cluster's
 * ConfigMap holds (so a run after `make profile PROFILE=4g-lte` or a profile file is judged against it).
 */
export async function loadPrediction(c: () => Cluster, nameOrPath?: string): Promise<Prediction> {
  if (nameOrPath) {
    try {
      const prepared = prepareProfile(nameOrPath, readProfileFile);
      return predictionOf(prepared.name, prepared.topology);
    } catch (err) {
      throw err instanceof ProfileError ? new UserError(err.message) : err;
    }
  }
  const cluster = c();
  const inForce = profileInConfigMap(
    await readConfigMap(cluster, PROFILE_CONFIGMAP.namespace, PROFILE_CONFIGMAP.name),
  );
  if (!inForce.ok)
    throw new UserError(
      `No valid link profile in ${cluster.context} (${inForce.message}): run \`make up\`, or \`make profile PROFILE=<preset|file>\`.`,
    );
  return predictionOf(inForce.topology.name, inForce.topology);
}

/** Validates first; only a valid profile is applied, so the one in the cluster stays when this refuses. */
export async function switchProfile(c: Cluster, nameOrPath: string): Promise<string> {
  let prepared: ReturnType<typeof prepareProfile>;
  try {
    prepared = prepareProfile(nameOrPath, readProfileFile);
  } catch (err) {
    if (!(err instanceof ProfileError)) throw err;
    const current = profileInConfigMap(
      await readConfigMap(c, PROFILE_CONFIGMAP.namespace, PROFILE_CONFIGMAP.name).catch(() => undefined),
    );
    throw new UserError(
      `${err.message}\nRefused: the cluster keeps its current profile${current.ok ? ` (${current.topology.name})` : ''}.`,
    );
  }
  const before = profileInConfigMap(
    await readConfigMap(c, PROFILE_CONFIGMAP.namespace, PROFILE_CONFIGMAP.name),
  );
  await serverSideApply(c, profileConfigMap(prepared));
  const from = before.ok ? before.topology.name : 'none';
  return `Link profile ${from} -> ${prepared.name} (from ${prepared.source}); the link agents and proxies apply it within seconds (make status shows what each agent applied).`;
}

/** Waits (bounded) for every site node's agent to report, then says whether netem works everywhere. */
export async function netemCheck(
  c: Cluster,
  timeoutSeconds: number,
): Promise<{ ok: boolean; message: string }> {
  const started = Date.now();
  for (;;) {
    const nodes = (await c.core.listNode()).items.filter((n) => n.metadata?.labels?.[SITE_LABEL]);
    const reports = (await agentStatus(c))
      .map(agentReport)
      .filter((r) => r.netem && r.netem.available !== null);
    const missing = nodes
      .map((n) => n.metadata?.name ?? '')
      .filter((n) => !reports.some((r) => r.node === n));
    if (missing.length === 0 || (Date.now() - started) / 1000 >= timeoutSeconds) {
      const problems = netemProblems(reports);
      if (problems.length) return { ok: false, message: netemAdvice(problems) };
      if (missing.length)
        return {
          ok: false,
          message: `No netem report yet from the link agent on: ${missing.join(', ')} (see make logs).`,
        };
      return { ok: true, message: `netem works on all ${nodes.length} site nodes.` };
    }
    await sleep(2000);
  }
}

const USAGE = `usage: node services/cli/main.ts [--context <name>] <wait|status|profile <name|file>|profile-text <name|file>|netem|ensure-secrets|urls|prediction [name|file]>
presets: ${PRESET_NAMES.join(', ')}`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      context: { type: 'string' },
      timeout: { type: 'string' },
      interval: { type: 'string', default: '2' },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, arg] = positionals;
  if (values.help || !command) {
    print(USAGE);
    return command || values.help ? 0 : 2;
  }
  const seconds = (text: string | undefined, fallback: number) => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(n) || n <= 0)
      throw new UserError(`--timeout/--interval must be a positive number of seconds, got "${text}"`, 2);
    return n;
  };
  let c: Cluster | undefined;
  try {
    if (command === 'prediction') {
      const prediction = await loadPrediction(() => {
        c = connect(values.context);
        return c;
      }, arg);
      print(JSON.stringify(prediction));
      return 0;
    }
    if (command === 'profile-text') {
      // What `make up` renders into the link-profile ConfigMaps, so applying the manifests keeps the profile the
      // user asked for instead of resetting it to the default first. Validated here, before anything is applied.
      if (!arg) throw new UserError(`profile-text needs a preset name or a file\n${USAGE}`, 2);
      try {
        process.stdout.write(prepareProfile(arg, readProfileFile).text);
      } catch (err) {
        throw err instanceof ProfileError ? new UserError(err.message) : err;
      }
      return 0;
    }
    c = connect(values.context);
    switch (command) {
      case 'wait':
        await waitReady(c, seconds(values.timeout, 300), seconds(values.interval, 2));
        return 0;
      case 'status':
        print(await status(c));
        return 0;
      case 'profile':
        if (!arg) throw new UserError(`profile needs a preset name or a file\n${USAGE}`, 2);
        print(await switchProfile(c, arg));
        return 0;
      case 'netem': {
        const result = await netemCheck(c, seconds(values.timeout, 60));
        print(result.message);
        return result.ok || !values.strict ? 0 : 4;
      }
      case 'ensure-secrets':
        print(
          (await ensureGrafanaSecret(c))
            ? 'created Secret mec-testbed/grafana-admin (random admin password)'
            : 'Secret mec-testbed/grafana-admin exists; kept',
        );
        return 0;
      case 'urls':
        print(formatUrls(await uiAccessList(c)));
        return 0;
      default:
        throw new UserError(`unknown command "${command}"\n${USAGE}`, 2);
    }
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    const problem = connectionProblem(
      err,
      c?.server ?? '(unknown)',
      c?.context ?? values.context ?? '(current)',
    );
    if (problem) {
      process.stderr.write(`${problem}\n`);
      return 3;
    }
    throw err;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
