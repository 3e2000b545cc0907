// The CI proof of the dashboards and of the cluster's Prometheus rules: the services, the
// link proxy with the default profile and a blackbox exporter on loopback, a real Prometheus with the cluster's
// rule files scraping them, open-model load of the k6 scripts' shape, then every query of every panel of every
// generated dashboard must return data, and the measured edge-vs-cloud reduction on echo must agree with the
// profile's prediction.
//
// k6 cannot run here, so the k6 panels are fed by the load generator's own measurements written exactly as
// k6's remote-write output writes them (k6-remote-write.ts); their rules are also unit-tested with promtool
// over k6-shaped series (k8s/base/prometheus/tests/k6-*.test.yml). Panels fed only by the netem link agent
// (a kind node with sch_netem; this kernel has none) can only be checked for valid PromQL here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { feedOf, type PanelQuery, panelQueries, substitute } from '../../grafana/src/queries.ts';
import { devProcesses } from '../../hack/dev/main.ts';
import {
  DEFAULT_PRESET,
  loadProfile,
  predictedReduction,
  roundTripSeconds,
} from '../../services/topology/index.ts';
import { commandWorks, prometheus, skipUnless } from '../support/requirements.ts';
import { K6RemoteWrite } from './k6-remote-write.ts';
import { runOpenModel, type Target } from './open-model.ts';
import { collectPanels, pictureSvg, writePicture } from './picture.ts';
import {
  freePorts,
  type Ports,
  PROMETHEUS_DIR,
  type Proc,
  PromApi,
  ROOT,
  ruleFiles,
  start,
  stop,
  tempDir,
  waitFor,
  writeConfig,
} from './stack.ts';

const blackboxExporter = commandWorks('prometheus-blackbox-exporter', ['--version'], 'the blackbox exporter');

/** Load per site (requests/s) and for how long: the mixed scenario's shape, small enough for 2 shared cores. */
const LOAD = { echo: 20, media: 8, inspect: 3 } as const;
// 75 s: the rules' 1-minute rate windows fill, so the last quarter of the run shows steady-state figures.
const LOAD_SECONDS = Number(process.env.MEC_OBS_LOAD_SECONDS ?? 75);
const WORKLOADS = ['echo', 'inspect', 'media'] as const;

/**
 * The reduction check. A request on a reused connection costs one round trip plus an overhead c the emulation
 * does not model (service time, and the proxy's and the client's own work, which on a busy 2-core CI machine
 * reaches several milliseconds). c is common to both sites, so the measured reduction 1 − (Re + c)/(Rc + c) sits
 * below the profile's 1 − Re/Rc by an amount that depends on the machine, while the difference between the two
 * medians, Rc − Re, does not depend on c. So the test asserts that the cloud's median exceeds the edge's by the
 * profile's Rc − Re within a tolerance, which is the same as saying the measured reduction equals the profile's
 * prediction once the measured common overhead c = median(edge) − Re is added to both round trips. Tolerances:
 * 4 ms for the generator's raw timings (800 requests per site: the medians are stable to well under 1 ms; the rest
 * is the two paths' different jitter, 2 ms vs 2.2 ms per direction, and uneven contention between interleaved
 * requests); 5 ms for the probes (one probe per second, a 5-minute quantile over ~40 of them); 7 ms for the
 * k6-shaped native histogram (schema-3 buckets are 9% wide: up to ±2.7 ms at 30-40 ms). A broken emulation is
 * far outside: no delay or the edge delayed like the cloud gives 0 ms, a handshake counted on every request 36 ms.
 */
const DIFFERENCE_TOLERANCE = { client: 0.004, probe: 0.005, k6: 0.007 };

describe('dashboards and rules against a real Prometheus (loopback testbed, default profile)', {
  skip: skipUnless(prometheus) || skipUnless(blackboxExporter),
  timeout: 180_000,
}, () => {
  const procs: Proc[] = [];
  const dir = tempDir();
  let api: PromApi;
  let ports: Ports;
  let loadStart = 0;
  let loadEnd = 0;
  const client: Record<'edge' | 'cloud', number[]> = { edge: [], cloud: [] };
  let k6: K6RemoteWrite;

  before(async () => {
    const [edgeRaw, cloudRaw, ueEdge, ueCloud, edgeToCloud, proxyAdmin, blackbox, prom] = await freePorts(8);
    ports = {
      edgeRaw: edgeRaw ?? 0,
      cloudRaw: cloudRaw ?? 0,
      ueEdge: ueEdge ?? 0,
      ueCloud: ueCloud ?? 0,
      edgeToCloud: edgeToCloud ?? 0,
      proxyAdmin: proxyAdmin ?? 0,
      blackbox: blackbox ?? 0,
      prometheus: prom ?? 0,
    };
    // The processes and wiring of `make dev` (hack/dev/main.ts): UE ports through ue->edge and ue->cloud, the
    // edge's CLOUD_URL through edge->cloud. Smaller media segments keep the CPU for the measurement.
    const dev = devProcesses(
      {
        edge: ports.ueEdge,
        cloud: ports.ueCloud,
        edgeRaw: ports.edgeRaw,
        cloudRaw: ports.cloudRaw,
        edgeToCloud: ports.edgeToCloud,
        admin: ports.proxyAdmin,
      },
      DEFAULT_PRESET,
      { LOG_LEVEL: 'warn' },
      await loadProfile(DEFAULT_PRESET),
    ).map((p) => start(p.name, process.execPath, [p.script], { ...p.env, MEDIA_SEGMENT_BYTES: '65536' }));
    const byName = (name: string) => {
      const p = dev.find((d) => d.name === name);
      if (!p) throw new Error(`make dev has no ${name} process`);
      return p;
    };
    const [cloud, edge, proxy] = [byName('cloud'), byName('edge'), byName('proxy')];
    const bb = start('blackbox-exporter', 'prometheus-blackbox-exporter', [
      `--config.file=${join(PROMETHEUS_DIR, 'blackbox.yml')}`,
      `--web.listen-address=127.0.0.1:${ports.blackbox}`,
    ]);
    const config = writeConfig(dir.path, ports);
    const promProc = start('prometheus', 'prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir.path, 'data')}`,
      `--web.listen-address=127.0.0.1:${ports.prometheus}`,
      '--web.enable-remote-write-receiver',
      '--enable-feature=native-histograms',
    ]);
    procs.push(cloud, edge, proxy, bb, promProc);
    await Promise.all([
      waitFor(`http://127.0.0.1:${ports.cloudRaw}/readyz`, cloud),
      waitFor(`http://127.0.0.1:${ports.edgeRaw}/readyz`, edge),
      waitFor(`http://127.0.0.1:${ports.proxyAdmin}/readyz`, proxy),
      waitFor(`http://127.0.0.1:${ports.blackbox}/`, bb),
      waitFor(`http://127.0.0.1:${ports.prometheus}/-/ready`, promProc),
    ]);
    api = new PromApi(`http://127.0.0.1:${ports.prometheus}`);
    k6 = new K6RemoteWrite(`http://127.0.0.1:${ports.prometheus}/api/v1/write`);

    // The scenario shape of loadtest/mixed.ts: each workload at the same rate to both sites, through the UE ports.
    const inspectBody = Buffer.alloc(128 * 128, 70);
    let mediaDraw = 0;
    const requests = {
      echo: () => ({ path: '/api/v1/echo?bytes=64' }),
      inspect: () => ({
        path: '/api/v1/inspect?width=128&height=128',
        method: 'POST',
        body: inspectBody,
        headers: { 'content-type': 'application/octet-stream' },
      }),
      // Mostly a few popular segments (cache hits at the edge) and a tail of others (misses).
      media: () => {
        mediaDraw++;
        return mediaDraw % 5 === 0
          ? { path: `/api/v1/media/vod-${mediaDraw % 97}/${mediaDraw}.ts` }
          : { path: `/api/v1/media/live-${mediaDraw % 3}/${mediaDraw % 8}.ts` };
      },
    };
    const names = {
      echo: '/api/v1/echo',
      inspect: '/api/v1/inspect',
      media: '/api/v1/media/:stream/:segment',
    };
    const targets: Target[] = WORKLOADS.flatMap((workload) =>
      (['edge', 'cloud'] as const).map((site) => ({
        site,
        workload,
        rate: LOAD[workload],
        next: requests[workload],
        name: names[workload],
        baseUrl: `http://127.0.0.1:${site === 'edge' ? ports.ueEdge : ports.ueCloud}`,
      })),
    );
    loadStart = Date.now() / 1000;
    const pusher = setInterval(() => void k6.push().catch(() => {}), 2000);
    const run = await runOpenModel({
      targets,
      durationMs: LOAD_SECONDS * 1000,
      onResult: (r) => {
        const ok = r.status >= 200 && r.status < 400;
        k6.record(
          {
            expected_response: String(ok),
            method: r.method,
            name: r.name,
            proto: 'HTTP/1.1',
            scenario: `${r.workload}_${r.site}`,
            site: r.site,
            status: String(r.status),
            workload: r.workload,
            ...(r.error ? { error_code: '1000' } : {}),
          },
          r.seconds,
          ok,
        );
        if (r.workload === 'echo' && ok) client[r.site as 'edge' | 'cloud'].push(r.seconds);
      },
    });
    clearInterval(pusher);
    await k6.push();
    loadEnd = Date.now() / 1000;
    console.log(
      `load: ${run.sent} requests in ${LOAD_SECONDS} s (${run.dropped} dropped), ${k6.pushes} remote writes`,
    );
    // Two more evaluation rounds so every recording rule has seen the last samples.
    await new Promise((r) => setTimeout(r, 3000));
  });

  after(async () => {
    await stop(procs);
    dir.remove();
  });

  it('every rule evaluates without error', async () => {
    const data = await api.get<{
      groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }>;
    }>('/api/v1/rules', {});
    const rules = data.groups.flatMap((g) => g.rules);
    assert.ok(rules.length > 20, `rules loaded: ${rules.length}`);
    for (const r of rules) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError}`);
  });

  it('every recording rule returns data', async () => {
    const records = ruleFiles().flatMap((f) =>
      (
        parse(readFileSync(f, 'utf8')) as { groups: Array<{ rules: Array<{ record?: string }> }> }
      ).groups.flatMap((g) => g.rules.map((r) => r.record).filter((r): r is string => !!r)),
    );
    const empty: string[] = [];
    for (const record of new Set(records)) {
      const { result } = await api.range(record, loadStart, loadEnd + 3, 2);
      if (!result.some((s) => s.values.some(([, v]) => Number.isFinite(Number(v))))) empty.push(record);
    }
    assert.deepEqual(empty, [], 'recording rules without data');
  });

  const dashboards = readdirSync(join(ROOT, 'grafana', 'dashboards')).filter((f) => f.endsWith('.json'));
  for (const file of dashboards) {
    it(`every panel query of ${file} returns data (netem-agent panels: valid PromQL only)`, async () => {
      const json = JSON.parse(readFileSync(join(ROOT, 'grafana', 'dashboards', file), 'utf8'));
      const queries = panelQueries(json);
      assert.ok(queries.length > 0);
      const missing: string[] = [];
      const agentOnly = new Set<string>();
      const k6Fed = new Set<string>();
      for (const q of queries) {
        for (const expr of variants(q)) {
          const feed = feedOf(expr);
          const { result } = await api.range(expr, loadStart, loadEnd + 3, 2);
          const hasData = result.some((s) => s.values.some(([, v]) => Number.isFinite(Number(v))));
          if (feed === 'agent') agentOnly.add(q.panel);
          else if (!hasData) missing.push(`"${q.panel}" ${q.refId}: ${expr}`);
          if (feed === 'k6') k6Fed.add(q.panel);
        }
      }
      console.log(
        `${file}: ${queries.length} queries; k6-fed: ${[...k6Fed].join('; ') || 'none'}; netem-agent only: ${[...agentOnly].join('; ') || 'none'}`,
      );
      assert.deepEqual(missing, [], `queries without data in ${file}`);
    });
  }

  it("the prediction the rules select is the topology model's", async () => {
    const model = predictedReduction(await loadProfile(DEFAULT_PRESET));
    const { result } = await api.instant(':mec_link_predicted_edge_reduction_ratio:max');
    assert.equal(result.length, 1);
    assert.ok(Math.abs(Number(result[0]?.value[1]) - model) < 1e-9, `${result[0]?.value[1]} vs ${model}`);
  });

  it('the measured edge-vs-cloud reduction on echo agrees with the profile within the stated tolerance', async () => {
    const topology = await loadProfile(DEFAULT_PRESET);
    const predicted = predictedReduction(topology);
    const re = roundTripSeconds(topology, 'ue', 'edge');
    const rc = roundTripSeconds(topology, 'ue', 'cloud');
    const value = async (expr: string) => Number((await api.instant(expr)).result[0]?.value[1]);
    const measured = {
      client: { edge: median(client.edge), cloud: median(client.cloud) },
      k6: {
        edge: await value(
          'site_workload:k6_http_req_duration_seconds:histogram_quantile{site="edge",workload="echo",quantile="0.5"}',
        ),
        cloud: await value(
          'site_workload:k6_http_req_duration_seconds:histogram_quantile{site="cloud",workload="echo",quantile="0.5"}',
        ),
      },
      probe: {
        edge: await value(
          'target_site:probe_round_trip_seconds:quantile_over_time5m{target_site="edge",quantile="0.5"}',
        ),
        cloud: await value(
          'target_site:probe_round_trip_seconds:quantile_over_time5m{target_site="cloud",quantile="0.5"}',
        ),
      },
    };
    const ms = (s: number) => `${(s * 1000).toFixed(2)} ms`;
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    const lines = [
      `profile ${DEFAULT_PRESET}: round trip edge ${ms(re)}, cloud ${ms(rc)}, predicted reduction ${pct(predicted)}`,
    ];
    const failures: string[] = [];
    for (const [what, m] of Object.entries(measured) as Array<
      [keyof typeof measured, { edge: number; cloud: number }]
    >) {
      const c = m.edge - re;
      const reduction = 1 - m.edge / m.cloud;
      const withOverhead = 1 - (re + c) / (rc + c);
      const difference = m.cloud - m.edge;
      const ok = Math.abs(difference - (rc - re)) <= DIFFERENCE_TOLERANCE[what];
      lines.push(
        `${what}: p50 edge ${ms(m.edge)}, cloud ${ms(m.cloud)}; cloud − edge ${ms(difference)} (profile ${ms(rc - re)} ± ${ms(DIFFERENCE_TOLERANCE[what])})` +
          `; reduction ${pct(reduction)} vs ${pct(withOverhead)} predicted with the common overhead ${ms(c)}`,
      );
      if (!ok) failures.push(what);
    }
    console.log(`echo, edge vs cloud:\n  ${lines.join('\n  ')}`);
    assert.deepEqual(failures, [], lines.join('\n'));
  });

  // The README picture: the overview's main panels drawn from the same queries on this run's data. Always
  // drawn (every pictured panel must have lines); written to a file only when asked (`make picture`).
  it('draws the README picture from the same queries (MEC_WRITE_PICTURE=docs/overview.png to write it)', async () => {
    const json = JSON.parse(readFileSync(join(ROOT, 'grafana', 'dashboards', 'mec-overview.json'), 'utf8'));
    const panels = await collectPanels(api, json, loadStart, loadEnd + 3);
    for (const p of panels)
      assert.ok(
        p.lines.some((l) => l.points.length > 1),
        `"${p.title}" has no lines`,
      );
    const svg = pictureSvg(
      'mec-testbed overview: edge vs cloud (echo)',
      `profile ${DEFAULT_PRESET} through the userspace link proxy on loopback; ${LOAD_SECONDS} s of open-model load; drawn from the Grafana panels' queries on a real Prometheus (test/observability)`,
      panels,
    );
    assert.match(svg, /^<svg/);
    const target = process.env.MEC_WRITE_PICTURE;
    if (target) writePicture(svg, join(ROOT, target));
  });
});

/** A query once per value of the variables it uses ($workload: each workload). */
function variants(q: PanelQuery): string[] {
  if (!/\$\{?workload\b/.test(q.expr)) return [substitute(q.expr, {})];
  return WORKLOADS.map((workload) => substitute(q.expr, { workload }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}
