// The thin effectful layer: a kubeconfig, API clients, and the few calls the CLI makes. Decisions live in the
// pure modules beside it; errors a user can meet are turned into messages here (see connectionProblem).
import { randomBytes } from 'node:crypto';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type V1ConfigMap,
} from '@kubernetes/client-node';

export const NAMESPACES = ['mec-testbed', 'mec-testbed-system'] as const;
export const FIELD_MANAGER = 'mec-testbed-cli';

export interface Cluster {
  kc: KubeConfig;
  context: string;
  server: string;
  core: CoreV1Api;
  apps: AppsV1Api;
  objects: KubernetesObjectApi;
}

export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/** Loads the kubeconfig (KUBECONFIG or ~/.kube/config) and selects `context` when given. */
export function connect(context?: string): Cluster {
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    throw new UserError(
      `Cannot read the kubeconfig (${process.env.KUBECONFIG ?? '~/.kube/config'}): ${(err as Error).message}\n` +
        'Create the testbed with `make up` (kind writes the kubeconfig), or set KUBECONFIG to a valid file.',
      3,
    );
  }
  // With no kubeconfig at all, client-node falls back to http://localhost:8080 (a server nobody runs).
  if (kc.getCurrentCluster()?.server === 'http://localhost:8080' && kc.getContexts().length <= 1) {
    throw new UserError(
      'No kubeconfig found (KUBECONFIG is unset and ~/.kube/config does not exist): no cluster to talk to.\n' +
        'Create the testbed with `make up` (kind writes the kubeconfig), or set KUBECONFIG.',
      3,
    );
  }
  if (context) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(context)) {
      throw new UserError(
        `No Kubernetes context "${context}" in your kubeconfig (${names.length ? `contexts: ${names.join(', ')}` : 'it has none'}).\n` +
          'Create the testbed with `make up`, or pass the context of your own cluster (KUBE_CONTEXT=<name>).',
        3,
      );
    }
    kc.setCurrentContext(context);
  }
  const server = kc.getCurrentCluster()?.server ?? '(no cluster in kubeconfig)';
  return {
    kc,
    context: kc.getCurrentContext(),
    server,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
]);

/** The message for an error that means "no cluster there", or undefined for any other error. Pure. */
export function connectionProblem(err: unknown, server: string, context: string): string | undefined {
  const codes: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    const errors = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(errors))
      for (const inner of errors) codes.push(String((inner as { code?: unknown }).code));
    e = (e as { cause?: unknown }).cause;
  }
  const code = codes.find((c) => UNREACHABLE.has(c));
  const message = String((err as Error)?.message ?? err);
  if (!code && !/fetch failed|No active cluster|connect ECONNREFUSED/.test(message)) return undefined;
  return (
    `No Kubernetes cluster reachable at ${server} (context "${context}"${code ? `, ${code}` : ''}).\n` +
    'Start the testbed with `make up` (a kind cluster named mec-testbed), check `docker ps` for its nodes, ' +
    'or point KUBECONFIG / KUBE_CONTEXT at a running cluster.'
  );
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

export async function readConfigMap(
  c: Cluster,
  namespace: string,
  name: string,
): Promise<V1ConfigMap | undefined> {
  try {
    return await c.core.readNamespacedConfigMap({ namespace, name });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Server-side apply of one object, owned by the CLI's field manager (forced: the CLI is the profile's owner). */
export async function serverSideApply<T extends { apiVersion?: string; kind?: string }>(c: Cluster, obj: T) {
  return c.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

/**
 * Creates the Grafana admin Secret with a random password unless it exists: never replaced, so a password a
 * user has read stays valid across `make up`. Returns whether it was created.
 */
export async function ensureGrafanaSecret(c: Cluster, namespace = 'mec-testbed'): Promise<boolean> {
  try {
    await c.core.readNamespacedSecret({ namespace, name: 'grafana-admin' });
    return false;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await c.core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: 'grafana-admin', labels: { 'app.kubernetes.io/part-of': 'mec-testbed' } },
        type: 'Opaque',
        stringData: { 'admin-user': 'admin', 'admin-password': randomBytes(18).toString('base64url') },
      },
    });
    return true;
  } catch (err) {
    if (err instanceof ApiException && err.code === 409) return false;
    throw err;
  }
}
