// One run on the `make dev` testbed: apply the condition's profile, pause, calibrate both sites, then at each site
// in the run's order: warm up and measure under the open-model load, every request streamed to disk as it ends.
// The run's record (run.json) is written last, so it exists only for a run that finished.
import path from 'node:path';
import { httpOpenLoop, type RequestRecord } from '../loadgen/http.ts';
import { calibrateSite, type SiteCalibration, timedRequest } from './calibrate.ts';
import { counterDeltas, fetchCounters } from './counters.ts';
import type { PlannedRun } from './design.ts';
import type { ExperimentTestbed } from './devbed.ts';
import { type HostDuringRun, watchHost } from './host.ts';
import { predictedNetworkSeconds } from './predict.ts';
import type { ResolvedCondition } from './resolve.ts';
import type { ExperimentSpec, MeasuredSite } from './spec.ts';
import { ensureDir, RequestWriter, runDir, writeJsonAtomic } from './store.ts';
import { prepareRequests, workloadRequest } from './workloads.ts';

export interface SiteRecord {
  site: MeasuredSite;
  calibration: SiteCalibration;
  /** The profile's network part for this request shape plus the idle service time, ms. */
  predictedMs: number;
  sent: number;
  dropped: number;
  startedAt: string;
}

export interface RunRecord {
  id: string;
  condition: string;
  repetition: number;
  attempt: string;
  startedAt: string;
  endedAt: string;
  sites: SiteRecord[];
  drifted: boolean;
  host: HostDuringRun;
  /** Counter deltas of the link proxy over the run, by series (`name{labels}`). */
  proxyCounters: Record<string, number>;
  /** Series the proxy exported at the start (so a counter that stayed at zero is told from one that is absent). */
  proxyCounterNames: string[];
  requests: number;
}

export async function executeRun(o: {
  spec: ExperimentSpec;
  run: PlannedRun;
  condition: ResolvedCondition;
  testbed: ExperimentTestbed;
  resultDir: string;
  signal: AbortSignal;
  onRequest?: (site: MeasuredSite, r: RequestRecord) => void;
}): Promise<RunRecord | null> {
  const { spec, run, condition, testbed } = o;
  const dir = runDir(o.resultDir, run.id);
  await ensureDir(dir);
  const attempt = Date.now().toString(36);
  const startedAt = new Date().toISOString();
  await testbed.applyProfile(condition.profileDocument);
  if (spec.pauseSeconds > 0) await sleep(spec.pauseSeconds * 1000, o.signal);
  const admin = `http://127.0.0.1:${testbed.ports.admin}/metrics`;
  const countersBefore = await fetchCounters(admin);
  const endHost = await watchHost();
  const writer = new RequestWriter(path.join(dir, 'requests.csv.gz'));
  const s = condition.settings;
  const sites: SiteRecord[] = [];
  try {
    for (const site of run.sites) {
      if (o.signal.aborted) break;
      const ports = testbed.ports;
      const emulatedPort = site === 'edge' ? ports.edge : ports.cloud;
      const rawPort = site === 'edge' ? ports.edgeRaw : ports.cloudRaw;
      const stream = `${run.id}-${site}-${attempt}`;
      for (const shape of prepareRequests(s, stream)) await timedRequest(rawPort, shape, false);
      const calibration = await calibrateSite({
        site,
        topology: condition.topology,
        emulatedPort,
        rawPort,
        calibration: spec.calibration,
        workload: (i) => workloadRequest(s, stream, i, 'calibrate'),
      });
      const sample = workloadRequest(s, stream, 0, 'measure');
      const network = predictedNetworkSeconds(condition.topology, site, {
        newConnection: s.connection === 'new',
        upBytes: sample.body?.length ?? 0,
        downBytes: calibration.responseBytes,
      });
      const record: SiteRecord = {
        site,
        calibration,
        predictedMs: network * 1000 + calibration.serviceMs,
        sent: 0,
        dropped: 0,
        startedAt: new Date().toISOString(),
      };
      const result = await httpOpenLoop({
        port: emulatedPort,
        rate: s.rate,
        warmupSeconds: spec.warmupSeconds,
        seconds: spec.durationSeconds,
        connection: s.connection,
        maxInFlight: s.maxInFlight,
        request: (i, phase) => workloadRequest(s, stream, i, phase),
        signal: o.signal,
        onRecord: (r) => {
          writer.write({
            ...r,
            run: run.id,
            condition: run.condition,
            repetition: run.repetition,
            site,
            workload: s.workload,
          });
          o.onRequest?.(site, r);
        },
      });
      record.sent = result.sent;
      record.dropped = result.dropped;
      sites.push(record);
    }
  } finally {
    await writer.close();
  }
  if (o.signal.aborted) return null;
  const countersAfter = await fetchCounters(admin);
  const record: RunRecord = {
    id: run.id,
    condition: run.condition,
    repetition: run.repetition,
    attempt,
    startedAt,
    endedAt: new Date().toISOString(),
    sites,
    drifted: sites.some((x) => x.calibration.drifted),
    host: await endHost(),
    proxyCounters: counterDeltas(countersBefore, countersAfter),
    proxyCounterNames: Object.keys(countersBefore),
    requests: writer.count,
  };
  await writeJsonAtomic(path.join(dir, 'run.json'), record);
  return record;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
