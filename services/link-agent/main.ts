// The link agent's entrypoint: `node services/link-agent/main.ts`, one per site node (DaemonSet, hostNetwork,
// NET_ADMIN). Probes netem, watches the profile and the nodes, keeps the tc tree of its node in line, serves
// /metrics and /healthz, publishes its status ConfigMap, and removes its tree on SIGTERM.
import { KubeConfig } from '@kubernetes/client-node';
import {
  type ConfigSpec,
  type ConfigVar,
  describeConfig,
  enumVar,
  hostVar,
  integerVar,
  LOG_LEVELS,
  type LogLevel,
  parseConfig,
} from '../skeleton/config.ts';
import { createLogger } from '../skeleton/logger.ts';
import { watchCluster } from './cluster.ts';
import { createAgentMetrics, createMetricsServer } from './metrics.ts';
import { probeNetem } from './probe.ts';
import { Reconciler } from './reconcile.ts';
import { ExecRunner } from './runner.ts';
import { statusPublisher } from './status.ts';

function patternVar(
  name: string,
  description: string,
  defaultValue: string,
  pattern: RegExp,
  allowed: string,
): ConfigVar<string> {
  return {
    name,
    description,
    defaultValue,
    parse: (raw) => (pattern.test(raw) ? { value: raw } : { error: `expected ${allowed}` }),
  };
}

export const agentConfigSpec = {
  nodeName: patternVar(
    'NODE_NAME',
    "this node's name (required; set from the downward API: fieldRef spec.nodeName)",
    '',
    /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
    'a Kubernetes node name (lower-case letters, digits, "-" and ".")',
  ),
  device: patternVar(
    'INTERFACE',
    'the egress interface to shape (a kind node container: eth0)',
    'eth0',
    /^(?!lo$)[A-Za-z0-9_.:@-]{1,15}$/,
    'a network interface name of at most 15 characters, not lo',
  ),
  metricsPort: integerVar(
    'METRICS_PORT',
    'TCP port of /metrics, /healthz and /readyz (PORT is read when METRICS_PORT is unset)',
    9465,
    1,
    65535,
  ),
  mode: enumVar(
    'LINK_BACKEND',
    'netem: shape this node; off: probe netem and report, shape nothing (the proxy backend or a real network)',
    'netem' as 'netem' | 'off',
    ['netem', 'off'],
  ),
  namespace: patternVar(
    'POD_NAMESPACE',
    'namespace of the profile and status ConfigMaps (downward API: metadata.namespace)',
    'mec-testbed-system',
    /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    'a Kubernetes namespace name',
  ),
  profileConfigMap: patternVar(
    'PROFILE_CONFIGMAP',
    'name of the ConfigMap holding the link profile (key profile.yaml)',
    'link-profile',
    /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
    'a ConfigMap name',
  ),
  shutdownTimeoutSeconds: integerVar(
    'SHUTDOWN_TIMEOUT_SECONDS',
    'after SIGTERM, how long removing the tc tree may take before the agent exits with an error',
    10,
    1,
    600,
  ),
  host: hostVar('HOST', 'address /metrics listens on', '0.0.0.0'),
  logLevel: enumVar('LOG_LEVEL', 'lowest log level written', 'info' as LogLevel, LOG_LEVELS),
} as const satisfies ConfigSpec;

export function loadAgentConfig(env: NodeJS.ProcessEnv) {
  // The service contract's PORT names the same thing for the other services; METRICS_PORT wins when both are set.
  const result = parseConfig(agentConfigSpec, { ...env, METRICS_PORT: env.METRICS_PORT || env.PORT });
  const errors = result.ok ? [] : [...result.errors];
  if (result.ok && result.config.nodeName === '')
    errors.push('NODE_NAME is not set: the DaemonSet sets it from the downward API (fieldRef spec.nodeName)');
  if (!result.ok || errors.length > 0) return { ok: false as const, errors };
  return result;
}

async function main(): Promise<void> {
  const loaded = loadAgentConfig(process.env);
  if (!loaded.ok) {
    process.stderr.write(
      `link-agent: invalid configuration:\n  ${loaded.errors.join('\n  ')}\n\nVariables:\n${describeConfig(agentConfigSpec)}\n`,
    );
    process.exit(1);
  }
  const config = loaded.config;
  const log = createLogger(config.logLevel, { service: 'link-agent', node: config.nodeName });
  const kc = new KubeConfig();
  kc.loadFromDefault(); // in-cluster service account, or KUBECONFIG outside

  const runner = new ExecRunner();
  const metrics = createAgentMetrics();
  const publish = statusPublisher(kc, config.namespace);
  const reconciler = new Reconciler({
    nodeName: config.nodeName,
    device: config.device,
    runner,
    metrics,
    publishStatus: publish,
    mode: config.mode,
    namespace: config.namespace,
    profileConfigMap: config.profileConfigMap,
    log,
  });
  const server = createMetricsServer(
    metrics,
    () => reconciler.health(),
    () => reconciler.readiness(),
    log,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metricsPort, config.host, resolve);
  });
  log.info('serving /metrics and /healthz', { port: config.metricsPort, device: config.device });

  // The agent has NET_ADMIN but not SYS_ADMIN: it probes on a throwaway veth pair in the node's namespace.
  const probe = await probeNetem(runner);
  log.info('netem probe', { available: probe.available, message: probe.message, checks: probe.checks });
  reconciler.setNetem(probe);

  const watch = watchCluster({
    kc,
    inputs: reconciler,
    log,
    namespace: config.namespace,
    profileConfigMap: config.profileConfigMap,
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping: removing the tc tree this agent created', { signal });
    const guard = setTimeout(() => {
      log.error('removing the tc tree took too long; exiting', { seconds: config.shutdownTimeoutSeconds });
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000);
    let code = 0;
    try {
      await watch.stop();
      await reconciler.shutdown();
      const s = reconciler.status();
      await publish({
        ...s,
        idleReason: `agent stopped (${signal}); its tc tree was removed`,
        plan: [],
      }).catch(() => undefined);
    } catch (err) {
      log.error('shutdown failed', { err });
      code = 1;
    }
    clearTimeout(guard);
    server.close();
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

if (import.meta.main) {
  main().catch((err: Error) => {
    process.stderr.write(`link-agent: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
