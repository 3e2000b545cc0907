// Fuzz: the edge and cloud services as processes, the edge reaching the cloud for media. Every route gets
// hostile query strings; the inspect route gets hostile images. Every answer is a success or a 4xx with the
// JSON error shape, of bounded size; echo requests beside the fuzz keep being answered (inspect runs on its
// worker pool, not on the event loop that answers them); at the end both processes are alive and their memory
// is within the memory limit their pods run under.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { PRESETS, siteProcessEnv, topologyFrom } from '../../services/topology/index.ts';
import { encodeGrayPng, syntheticImage } from '../../services/workloads/inspect/synthetic.ts';
import { fc, fuzz, queryString } from '../support/fuzz.ts';
import {
  type FuzzedProcess,
  isJsonError,
  request,
  startFuzzed,
  trafficBeside,
} from '../support/fuzz-process.ts';
import { freePorts } from '../support/ports.ts';
import { imageCase } from './images.ts';

/** echo's largest answer is 1 MiB; an error or any other answer is far smaller. */
const MAX_ANSWER_BYTES = 1024 * 1024 + 64 * 1024;
const MAX_ERROR_BYTES = 16 * 1024;
/** Echo beside the fuzz: each answered within this, and the median under MAX_MEDIAN_MS. */
const MAX_BESIDE_MS = 10_000;
const MAX_MEDIAN_MS = 1000;
/**
 * The memory limit of the site's container in the cluster (k8s/base/<site>.yaml), in KiB: what the process may
 * hold there before it is killed. A decode of the largest image holds up to 136 MiB beside about 6 bytes a pixel
 * while it detects (services/workloads/README.md), next to the process itself and the reference cache.
 */
function podMemoryLimitKiB(site: 'edge' | 'cloud'): number {
  const docs = parseAllDocuments(
    readFileSync(new URL(`../../k8s/base/${site}.yaml`, import.meta.url), 'utf8'),
  );
  for (const doc of docs) {
    const o = doc.toJS() as {
      kind?: string;
      spec?: {
        template?: { spec?: { containers?: Array<{ resources?: { limits?: { memory?: string } } }> } };
      };
    };
    const limit =
      o?.kind === 'Deployment'
        ? o.spec?.template?.spec?.containers?.[0]?.resources?.limits?.memory
        : undefined;
    const mi = limit?.match(/^(\d+)Mi$/);
    if (mi) return Number(mi[1]) * 1024;
  }
  throw new Error(`no memory limit in Mi on the ${site} Deployment of k8s/base/${site}.yaml`);
}
const MAX_PEAK_KIB = { edge: podMemoryLimitKiB('edge'), cloud: podMemoryLimitKiB('cloud') };

let cloud: FuzzedProcess;
let edge: FuzzedProcess;
const url: { edge: string; cloud: string } = { edge: '', cloud: '' };

const ready = (base: () => string) => async () =>
  (await request(`${base()}/readyz`, { timeoutMs: 1000 })).status === 200;

before(async () => {
  const [cloudPort, edgePort] = (await freePorts(2)) as [number, number];
  url.cloud = `http://127.0.0.1:${cloudPort}`;
  url.edge = `http://127.0.0.1:${edgePort}`;
  // Each process with the environment its site gives it under make dev and on kind (the default profile's).
  const common = { HOST: '127.0.0.1', LOG_LEVEL: 'error' };
  const site = (name: 'edge' | 'cloud') => siteProcessEnv(topologyFrom(PRESETS['5g-mec'], '5g-mec'), name);
  cloud = await startFuzzed(
    'services/cloud/main.ts',
    { ...common, ...site('cloud'), PORT: String(cloudPort) },
    ready(() => url.cloud),
  );
  edge = await startFuzzed(
    'services/edge/main.ts',
    { ...common, ...site('edge'), PORT: String(edgePort), CLOUD_URL: url.cloud },
    ready(() => url.edge),
  );
});

after(async () => {
  await edge?.stop();
  await cloud?.stop();
});

interface Route {
  method: 'GET' | 'POST';
  path: string;
  keys: string[];
  body?: { contentType: string; bytes: Uint8Array };
}

const SMALL_PNG = encodeGrayPng(syntheticImage({ width: 32, height: 24, defects: 1, seed: 2 }));
const ROUTES: Route[] = [
  { method: 'GET', path: '/healthz', keys: [] },
  { method: 'GET', path: '/readyz', keys: [] },
  { method: 'GET', path: '/metrics', keys: [] },
  { method: 'GET', path: '/api/v1/echo', keys: ['bytes'] },
  { method: 'GET', path: '/api/v1/media/cam-1/17', keys: [] },
  { method: 'GET', path: '/api/v1/media/cam-1/17.ts', keys: [] },
  {
    method: 'POST',
    path: '/api/v1/inspect',
    keys: ['threshold', 'minArea'],
    body: { contentType: 'image/png', bytes: SMALL_PNG },
  },
  {
    method: 'POST',
    path: '/api/v1/inspect',
    keys: ['width', 'height', 'threshold', 'minArea'],
    body: { contentType: 'application/octet-stream', bytes: new Uint8Array(32 * 24) },
  },
];

function checkAnswer(answer: { status: number; body: string }, what: string): void {
  assert.ok(answer.status < 500, `${what}: answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  const bytes = Buffer.byteLength(answer.body);
  assert.ok(bytes <= MAX_ANSWER_BYTES, `${what}: an answer of ${bytes} bytes`);
  if (answer.status >= 400) {
    assert.ok(isJsonError(answer.body), `${what}: not the JSON error shape: ${answer.body.slice(0, 200)}`);
    assert.ok(bytes <= MAX_ERROR_BYTES, `${what}: an error of ${bytes} bytes`);
  }
}

/** Runs `fuzzing` with echo requests beside it, then checks them and both processes. */
async function besideEcho<T>(fuzzing: () => Promise<T>) {
  const traffic = trafficBeside(echo, 100, MAX_BESIDE_MS);
  let result: T;
  try {
    result = await fuzzing();
  } finally {
    await traffic.stop();
  }
  const { sent, failures, medianMs, slowestMs } = await traffic.stop();
  for (const p of [edge, cloud]) assert.ok(p.alive(), `a service died:\n${p.output()}`);
  assert.deepEqual(failures, [], `echo beside the fuzz failed (${failures.length} of ${sent})`);
  assert.ok(sent >= 5, `only ${sent} echo requests beside the fuzz`);
  assert.ok(medianMs <= MAX_MEDIAN_MS, `echo beside the fuzz took ${Math.round(medianMs)} ms at the median`);
  const peaks = [edge.peakKiB(), cloud.peakKiB()];
  for (const [i, name] of (['edge', 'cloud'] as const).entries()) {
    const peak = peaks[i];
    if (peak !== undefined)
      assert.ok(
        peak <= MAX_PEAK_KIB[name],
        `the ${name} peaked at ${Math.round(peak / 1024)} MiB, over its pod's limit of ${MAX_PEAK_KIB[name] / 1024} MiB`,
      );
  }
  const mib = (p: number | undefined) =>
    p === undefined ? 'not measured (no /proc)' : `${Math.round(p / 1024)} MiB`;
  return {
    result,
    note: `echo beside: ${sent}, median ${Math.round(medianMs)} ms, slowest ${Math.round(slowestMs)} ms; peak memory edge ${mib(peaks[0])}, cloud ${mib(peaks[1])}`,
  };
}

const echo = (timeoutMs: number) => request(`${url.edge}/api/v1/echo?bytes=64`, { timeoutMs });

describe('fuzzing the edge and cloud services', () => {
  it('hostile query strings on every route of both services', async (t) => {
    const cases = fc.tuple(
      fc.constantFrom(...ROUTES),
      fc.constantFrom('edge', 'cloud'),
      queryString(ROUTES.flatMap((r) => r.keys)),
    );
    const { result: summary, note } = await besideEcho(() =>
      fuzz(
        'query strings',
        cases,
        async ([route, site, query]) => {
          if (site === 'cloud' && route.path.startsWith('/api/v1/media') && route.path.endsWith('.ts'))
            return;
          const answer = await request(`${url[site as 'edge' | 'cloud']}${route.path}?${query}`, {
            method: route.method,
            headers: route.body ? { 'content-type': route.body.contentType } : {},
            ...(route.body ? { body: route.body.bytes } : {}),
            timeoutMs: 10_000,
          });
          checkAnswer(answer, `${route.method} ${site} ${route.path}?${query.slice(0, 200)}`);
        },
        { budgetMs: 5000, minRuns: 30 },
      ),
    );
    t.diagnostic(
      `${summary.runs} requests in ${Math.round(summary.elapsedMs)} ms, seed ${summary.seed}; ${note}`,
    );
  });

  it('hostile images through inspect: 200 or a 4xx JSON error, echo still answered', async (t) => {
    const statuses = new Map<number, number>();
    const { result: summary, note } = await besideEcho(() =>
      fuzz(
        'inspect images',
        imageCase(),
        async (image) => {
          const answer = await request(`${url.edge}/api/v1/inspect?${image.query}`, {
            method: 'POST',
            headers: image.contentType ? { 'content-type': image.contentType } : {},
            body: image.body,
            timeoutMs: 20_000,
          });
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          checkAnswer(answer, `inspect ${image.contentType} of ${image.body.length} bytes`);
          assert.ok(
            [200, 400, 413, 415].includes(answer.status),
            `status ${answer.status}: ${answer.body.slice(0, 200)}`,
          );
          if (answer.status === 200) assert.match(answer.body, /"verdict":"(pass|fail)"/);
        },
        { budgetMs: 8000, minRuns: 20 },
      ),
    );
    t.diagnostic(
      `${summary.runs} images in ${Math.round(summary.elapsedMs)} ms, seed ${summary.seed}, answers ${JSON.stringify(Object.fromEntries(statuses))}; ${note}`,
    );
  });
});
