// A real Kubernetes control plane for node:test files: etcd + kube-apiserver + kube-controller-manager built from
// their Go modules (hack/kube/build.sh) and run on loopback by hack/kube/control-plane.sh. No kubelet and no
// container runtime: objects are admitted (Pod Security, ServiceAccount, RBAC, …), stored and reconciled
// (Deployment → ReplicaSet → Pod, DaemonSet → Pod once a Node object exists), but pods stay Pending.
//
// API
//   kubeBinaries: Requirement       for need(t, kubeBinaries) / skipUnless(kubeBinaries); met when the binaries are
//                                   built (`make kube-build`) or KUBECONFIG_MEC_TEST names a running control plane.
//   startControlPlane({ readyTimeoutSeconds?, apiServerArgs? }): Promise<ControlPlane>
//                                   starts a fresh control plane in a temporary directory (about 10–30 s here), or
//                                   reuses the one whose admin kubeconfig KUBECONFIG_MEC_TEST names (then stop() only
//                                   forgets it). Call stop() in `after`; a watchdog stops it anyway if the test
//                                   process dies. apiServerArgs adds kube-apiserver flags (short watch timeouts,
//                                   fast etcd compaction for 410 Gone re-list tests).
//   ControlPlane
//     kubeconfigPath, kc            admin (system:masters) kubeconfig file and a KubeConfig loaded from it
//     stop()                        stops the processes and deletes the temporary directory
//     restartApiServer()            stops kube-apiserver and starts it again on the same port and data; resolves
//                                   when /readyz answers (watch/informer reconnection tests)
//     kubectl(args)                 runs the pinned kubectl against it; resolves { stdout, stderr }, rejects with both
//     serviceAccountKubeConfig(ns, name)   a KubeConfig authenticated by a fresh token of that service account
//                                   (TokenRequest, as a pod would be); the account must exist
//     impersonating(user)           a KubeConfig that acts as `user` via impersonation, e.g.
//                                   'system:serviceaccount:mec-testbed:edge'
//   kubeNode: Requirement           for tests whose pods must really run (root, Docker, containerd, runc, the CNI
//                                   plugins, gcc, nftables, busybox-static, and `make kube-build-node`)
//   startNode(cp, { dns? }): Promise<KubeNode> starts kube-scheduler, kube-proxy, kube-router (firewall only:
//                                   NetworkPolicies are enforced), a private containerd and a kubelet as
//                                   node `mec-test-node` (label mec-testbed.dev/site=edge), pods on 10.244.77.0/24
//                                   reachable from the host; KubeNode { name, importImage(dockerRef), stop() }.
//                                   Images are never pulled: import them and use imagePullPolicy: Never.
//                                   Service ClusterIPs work (kube-proxy, nftables mode) and names resolve
//                                   (CoreDNS on the host's address, or with dns: 'pod' as kube-system pods behind
//                                   Service kube-dns at 10.96.0.10, as on kind). Pods reach the API server only when the
//                                   control plane advertises the host's address (apiServerArgs, see
//                                   test/kube/workloads.test.ts): a loopback endpoint is refused for `kubernetes`.
//   serverSideApply(kc, obj, { fieldManager?, dryRun? })   one object, like `kubectl apply --server-side --force-conflicts`
//   eventually(check, { timeoutMs?, intervalMs?, what? })  polls until check() returns a value other than
//                                   undefined/false (or stops throwing); for controller-driven state
//
// Example
//   describe('manifests', { skip: skipUnless(kubeBinaries) }, () => {
//     let cp: ControlPlane;
//     before(async () => { cp = await startControlPlane(); });
//     after(() => cp?.stop());
//     it('applies', async () => { await serverSideApply(cp.kc, namespaceObject); … });
//   });
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import type { Requirement } from './requirements.ts';

const execFileAsync = promisify(execFile);

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const controlPlaneScript = join(repoRoot, 'hack/kube/control-plane.sh');
const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'] as const;

/** KEY=value pairs of versions.env (comments and blank lines skipped). */
export function parseVersionsEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined) out[m[1]] = m[2] ?? '';
  }
  return out;
}

export const versions = parseVersionsEnv(readFileSync(join(repoRoot, 'versions.env'), 'utf8'));

/** Where hack/kube/build.sh puts the binaries (same rule as the script: $CACHE_DIR/kube-<version>/bin). */
export function kubeBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.CACHE_DIR || join(homedir(), '.cache/mec-testbed');
  return join(cache, `kube-${versions.KUBERNETES_VERSION}`, 'bin');
}

export const kubeBinaries: Requirement = () => {
  if (process.env.KUBECONFIG_MEC_TEST) {
    return existsSync(process.env.KUBECONFIG_MEC_TEST)
      ? undefined
      : `the control plane named by KUBECONFIG_MEC_TEST (${process.env.KUBECONFIG_MEC_TEST} does not exist)`;
  }
  const dir = kubeBinDir();
  const missing = BINARIES.filter((b) => {
    try {
      accessSync(join(dir, b), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return undefined;
  return (
    `the Kubernetes ${versions.KUBERNETES_VERSION} control-plane binaries (missing ${missing.join(', ')} in ${dir}): ` +
    'run `make kube-build` (needs Go and the Go module proxy; a cold build takes about 10 minutes on 2 cores)'
  );
};

const nodeScript = join(repoRoot, 'hack/kube/node.sh');

export const kubeNode: Requirement = () => {
  if (process.getuid?.() !== 0) return 'root (a kubelet manages cgroups, mounts and network namespaces)';
  const dir = kubeBinDir();
  const bins = ['kubelet', 'kube-scheduler', 'kube-proxy', 'coredns', 'kube-router'].filter(
    (b) => !existsSync(join(dir, b)),
  );
  if (bins.length > 0) return `${bins.join(', ')} in ${dir}: run \`make kube-build-node\``;
  const tools: [string, string][] = [
    ['/usr/bin/containerd', 'containerd'],
    ['/usr/sbin/runc', 'runc'],
    ['/usr/lib/cni/bridge', 'containernetworking-plugins'],
    ['/usr/bin/gcc', 'gcc'],
    ['/usr/sbin/nft', 'nftables'],
    ['/usr/sbin/ipset', 'ipset'],
  ];
  const missing = tools.filter(([path]) => !existsSync(path)).map(([, pkg]) => pkg);
  try {
    execFileSync('dpkg', ['-s', 'busybox-static'], { stdio: 'ignore' });
  } catch {
    missing.push('busybox-static');
  }
  if (missing.length > 0)
    return `Debian packages ${missing.join(' ')} (apt-get install -y ${missing.join(' ')})`;
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    return 'a running Docker engine (to build the pause image and import images)';
  }
  return undefined;
};

export interface KubeNode {
  name: string;
  /** Copies a Docker image (e.g. 'mec-testbed/edge:dev') into the node's containerd. */
  importImage(ref: string): Promise<void>;
  stop(): Promise<void>;
}

async function runNodeScript(
  stateDir: string,
  args: string[],
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(nodeScript, args, {
      env: { ...process.env, KUBE_STATE_DIR: stateDir, KUBE_NODE_NAME: 'mec-test-node', ...env },
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`hack/kube/node.sh ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/**
 * Starts one real node (kubelet + containerd + kube-scheduler + kube-router's policy firewall) for a control plane
 * this process started. `dns: 'pod'` runs CoreDNS as kind does (kube-system pods behind Service kube-dns), which
 * needs a control plane that advertises the host's address; the default runs it on the host.
 */
export async function startNode(cp: ControlPlane, opts: { dns?: 'host' | 'pod' } = {}): Promise<KubeNode> {
  const stateDir = cp.stateDir;
  if (!stateDir) throw new Error('startNode needs a control plane started by hack/kube/control-plane.sh');
  try {
    await runNodeScript(stateDir, ['up'], 300_000, { KUBE_DNS: opts.dns ?? 'host' });
  } catch (err) {
    await runNodeScript(stateDir, ['down'], 120_000).catch(() => {});
    throw err;
  }
  let running = true;
  return {
    name: 'mec-test-node',
    async importImage(ref) {
      await runNodeScript(stateDir, ['import-image', ref], 300_000);
    },
    async stop() {
      if (!running) return;
      running = false;
      await runNodeScript(stateDir, ['down'], 180_000);
    },
  };
}

export interface ControlPlane {
  kubeconfigPath: string;
  kc: KubeConfig;
  /** The script's state directory (certificates, logs, pid files), when known. */
  stateDir: string | undefined;
  stop(): Promise<void>;
  restartApiServer(): Promise<void>;
  kubectl(args: string[]): Promise<{ stdout: string; stderr: string }>;
  serviceAccountKubeConfig(namespace: string, name: string): Promise<KubeConfig>;
  impersonating(user: string): KubeConfig;
}

async function runScript(
  stateDir: string,
  args: string[],
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(controlPlaneScript, args, {
      env: { ...process.env, KUBE_STATE_DIR: stateDir, KUBE_OWNER_PID: String(process.pid), ...env },
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`hack/kube/control-plane.sh ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** A copy of `kc` whose current user is replaced by `user` (cluster and context kept). */
function withUser(
  kc: KubeConfig,
  user: { name: string; token?: string; impersonateUser?: string },
): KubeConfig {
  const admin = kc.getCurrentUser();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: [cluster],
    // Impersonation is a right of the admin identity, so keep its credentials; a token replaces them.
    users: [user.token ? { name: user.name, token: user.token } : { ...admin, ...user }],
    contexts: [{ name: 'ctx', cluster: cluster.name, user: user.name }],
    currentContext: 'ctx',
  });
  return out;
}

export interface StartOptions {
  /** Seconds to wait for each component to become ready (default 180: the CI machine is shared and slow). */
  readyTimeoutSeconds?: number;
  /**
   * Extra kube-apiserver flags, e.g. ['--min-request-timeout=5', '--etcd-compaction-interval=10s'] so watches
   * end and old resource versions are compacted (410 Gone) within a test. Ignored when KUBECONFIG_MEC_TEST is set.
   */
  apiServerArgs?: string[];
  /** The API server's port (default: a free one). Ignored when KUBECONFIG_MEC_TEST is set. */
  apiServerPort?: number;
}

export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const reuse = process.env.KUBECONFIG_MEC_TEST;
  let stateDir: string | undefined;
  let kubeconfigPath: string;
  let owned = false;
  if (reuse) {
    kubeconfigPath = reuse;
    // control-plane.sh keeps admin.kubeconfig beside run/env: then restarts are possible too.
    stateDir = existsSync(join(dirname(reuse), 'run/env')) ? dirname(reuse) : undefined;
  } else {
    stateDir = mkdtempSync(join(tmpdir(), 'mec-test-kube-'));
    owned = true;
    const timeout = opts.readyTimeoutSeconds ?? 180;
    try {
      kubeconfigPath = await runScript(stateDir, ['up'], (timeout * 3 + 60) * 1000, {
        KUBE_READY_TIMEOUT: String(timeout),
        KUBE_APISERVER_EXTRA_ARGS: (opts.apiServerArgs ?? []).join(' '),
        ...(opts.apiServerPort ? { KUBE_APISERVER_PORT: String(opts.apiServerPort) } : {}),
      });
    } catch (err) {
      rmSync(stateDir, { recursive: true, force: true });
      throw err;
    }
  }
  const kc = loadKubeConfig(kubeconfigPath);
  const bin = join(kubeBinDir(), 'kubectl');
  const kubectlBin = existsSync(bin) ? bin : 'kubectl';

  const cp: ControlPlane = {
    kubeconfigPath,
    kc,
    stateDir,
    async stop() {
      if (!owned || !stateDir) return;
      owned = false;
      // Delete the directory only after a complete stop: its pid files are how anything left is found.
      await runScript(stateDir, ['down'], 240_000);
      rmSync(stateDir, { recursive: true, force: true });
    },
    async restartApiServer() {
      if (!stateDir) {
        throw new Error(
          `cannot restart the API server of ${kubeconfigPath}: it was not started by hack/kube/control-plane.sh`,
        );
      }
      await runScript(stateDir, ['restart', 'kube-apiserver'], 240_000);
    },
    async kubectl(args) {
      try {
        return await execFileAsync(kubectlBin, ['--kubeconfig', kubeconfigPath, ...args], {
          timeout: 60_000,
          maxBuffer: 16 * 1024 * 1024,
        });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`kubectl ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
    },
    async serviceAccountKubeConfig(namespace, name) {
      const core = kc.makeApiClient(CoreV1Api);
      const tr = await core.createNamespacedServiceAccountToken({
        namespace,
        name,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      });
      const token = tr.status?.token;
      if (!token) throw new Error(`no token issued for service account ${namespace}/${name}`);
      return withUser(kc, { name: `${namespace}:${name}`, token });
    },
    impersonating(user) {
      return withUser(kc, { name: `as:${user}`, impersonateUser: user });
    },
  };
  return cp;
}

/** Server-side apply of one object (force: this test owns the fields), optionally as a dry run. */
export async function serverSideApply<T extends KubernetesObject>(
  kc: KubeConfig,
  obj: T,
  opts: { fieldManager?: string; dryRun?: boolean } = {},
): Promise<T> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  return api.patch(
    obj,
    undefined,
    opts.dryRun ? 'All' : undefined,
    opts.fieldManager ?? 'mec-testbed-test',
    true,
    PatchStrategy.ServerSideApply,
  );
}

/** Polls `check` until it returns something other than undefined/false without throwing. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: last error: ${last.message}` : '';
      throw new Error(
        `timed out after ${opts.timeoutMs ?? 60_000} ms waiting for ${opts.what ?? 'a condition'}${why}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}

/** The pinned kubectl's path, or undefined when not built (for tests that shell out). */
export function kubectlPath(): string | undefined {
  const p = join(kubeBinDir(), 'kubectl');
  try {
    execFileSync(p, ['version', '--client'], { stdio: 'ignore', timeout: 10_000 });
    return p;
  } catch {
    return undefined;
  }
}
