// loadtest/run.sh (`make load`) against a recording stand-in for kubectl and the CLI, with a `realpath` that
// refuses GNU options as macOS's does: the Job is rendered before the old one is deleted, the old Job is deleted
// in the foreground, the new pod is found by the Job's controller-uid (never the old pod still listed), a slow
// start reports its progress, the run is judged against the profile the CLI reports, and the summary files are
// copied out of the pod. `kubectl kustomize` is the real one (the component is really rendered).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kubectlPath } from '../../k8s/render.ts';
import { commandWorks, need, skipUnless } from '../../test/support/requirements.ts';

const root = join(import.meta.dirname, '..', '..');
const k6Image = /^K6_IMAGE=(.+)$/m.exec(readFileSync(join(root, 'versions.env'), 'utf8'))?.[1] ?? '';

/** kubectl as run.sh calls it: records every call, plays a cluster where the old Job's pod is still listed. */
const FAKE_KUBECTL = `#!/usr/bin/env bash
set -eu
state="$FAKE_STATE"
if [ "\${1:-}" = "--context" ]; then shift 2; fi
if [ "$1" = "-n" ]; then shift 2; fi
printf '%s\\n' "$*" >>"$state/calls"
case "$1 \${2:-}" in
  "kustomize "*) exec "$REAL_KUBECTL" "$@" ;;
  "create configmap") printf '%s\\n' "$@" >"$state/settings"; echo "kind: ConfigMap" ;;
  "apply -f") cat >/dev/null ;;
  "apply --server-side") cp "\${@: -1}" "$state/applied.yaml" ;;
  "delete job") : ;;
  "get job")
    case "$*" in
      *metadata.uid*) echo uid-new ;;
      *status.succeeded*) echo "$FAKE_JOB_STATUS" ;;
    esac ;;
  "get pods")
    case "$*" in
      *controller-uid=uid-new*)
        n=$(($(cat "$state/polls" 2>/dev/null || echo 0) + 1)); echo "$n" >"$state/polls"
        if [ "$n" -le 2 ]; then echo "mec-load-new|Pending|$FAKE_WAITING|$FAKE_WAITING_MESSAGE"; else echo "mec-load-new|Running||"; fi ;;
      *) echo "mec-load-old|Succeeded||" ;;
    esac ;;
  "get events") printf 'Pulling image "%s"' "$FAKE_IMAGE" ;;
  "logs -f") echo "k6 says: running" ;;
  "exec mec-load-new")
    case "$*" in
      *summary.txt*) echo "mec-testbed load: profile 4g-lte" ;;
      *summary.json*) echo '{"report":{"profile":"4g-lte"}}' ;;
      *) : ;;
    esac ;;
  *) echo "fake kubectl: unexpected $*" >&2; exit 1 ;;
esac
`;

/** The CLI: `prediction [name]` prints the profile in force (4g-lte) or the one named. */
const FAKE_CLI = `#!/usr/bin/env bash
printf '%s\\n' "$*" >>"$FAKE_STATE/cli"
while [ "$#" -gt 0 ] && [ "$1" != prediction ]; do shift; done
name="\${2:-4g-lte}"
printf '{"profile":"%s","roundTripSeconds":{"edge":0.028,"cloud":0.046},"predictedReduction":0.391304348}\\n' "$name"
`;

/** macOS's realpath has no --relative-to: a script that relies on it must fail here as it does there. */
const BSD_REALPATH = `#!/bin/sh
for a in "$@"; do case "$a" in --*) echo "realpath: illegal option -- \${a#--}" >&2; exit 1 ;; esac; done
exec /usr/bin/realpath "$@"
`;

describe('loadtest/run.sh (make load) on a POSIX userland', {
  skip: skipUnless(() => (kubectlPath() ? undefined : 'kubectl (for kustomize): run `make kube-build`')),
}, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mec-test-run-'));
    mkdirSync(join(dir, 'bin'));
    for (const [name, text] of [
      ['kubectl', FAKE_KUBECTL],
      ['cli', FAKE_CLI],
      ['realpath', BSD_REALPATH],
    ] as const) {
      writeFileSync(join(dir, 'bin', name), text);
      chmodSync(join(dir, 'bin', name), 0o755);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function run(name: string, env: Record<string, string> = {}, cli = true) {
    const state = join(dir, name);
    mkdirSync(state);
    const r = spawnSync(
      join(root, 'loadtest/run.sh'),
      [
        join(dir, 'bin/kubectl'),
        'kind-mec-testbed',
        ...(cli ? [join(dir, 'bin/cli'), '--context', 'kind-mec-testbed'] : []),
      ],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          PATH: `${join(dir, 'bin')}:/usr/bin:/bin`,
          HOME: dir,
          FAKE_STATE: state,
          REAL_KUBECTL: kubectlPath() as string,
          FAKE_JOB_STATUS: '1/',
          FAKE_WAITING: 'ContainerCreating',
          FAKE_WAITING_MESSAGE: '',
          FAKE_IMAGE: k6Image,
          MEC_RESULTS_DIR: join(state, 'results'),
          ...env,
        },
      },
    );
    const read = (f: string) => (existsSync(join(state, f)) ? readFileSync(join(state, f), 'utf8') : '');
    return { ...r, state, read, calls: read('calls').split('\n') };
  }

  it('renders the Job, replaces the old one in the foreground, follows the new pod and copies the summary out', () => {
    const r = run('ok');
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const applied = r.read('applied.yaml');
    assert.match(applied, /^kind: Job$/m, 'the rendered kustomization is not empty');
    assert.ok(applied.includes(`image: ${k6Image}`), 'the k6 image from versions.env');
    const del = r.calls.findIndex((c) => c.startsWith('delete job mec-load'));
    const render = r.calls.findIndex((c) => c.startsWith('kustomize'));
    assert.ok(render >= 0 && render < del, 'rendered before the old Job is deleted');
    assert.match(r.calls[del] ?? '', /--cascade=foreground --wait=true/);
    assert.ok(r.calls.some((c) => c.startsWith('get pods -l batch.kubernetes.io/controller-uid=uid-new')));
    assert.ok(r.calls.includes('logs -f pod/mec-load-new -c k6'), r.calls.join('\n'));
    assert.match(
      r.stdout,
      /\[\d+s\] ContainerCreating: Pulling image "grafana\/k6/,
      'progress while it starts',
    );
    const [out] = readdirSync(join(r.state, 'results'));
    assert.match(out ?? '', /^load-\d{8}T\d{6}Z$/);
    const results = join(r.state, 'results', out as string);
    assert.equal(readFileSync(join(results, 'summary.txt'), 'utf8'), 'mec-testbed load: profile 4g-lte\n');
    assert.deepEqual(JSON.parse(readFileSync(join(results, 'summary.json'), 'utf8')), {
      report: { profile: '4g-lte' },
    });
    assert.ok(
      r.calls.includes('exec mec-load-new -c results -- touch /tmp/.collected'),
      'the pod is released',
    );
    assert.match(r.stdout, /summary\.txt summary\.json copied to /);
    assert.match(r.stdout, /all thresholds passed/);
  });

  it('judges the run against the profile in force, or MEC_PROFILE (a preset or a file) when set', () => {
    const inForce = run('in-force');
    assert.equal(inForce.status, 0, inForce.stderr);
    assert.equal(inForce.read('cli'), '--context kind-mec-testbed prediction\n');
    assert.match(inForce.read('settings'), /^--from-literal=MEC_PREDICTION=\{"profile":"4g-lte",/m);
    assert.match(inForce.stdout, /judged against 4g-lte/);

    const named = run('named', { MEC_PROFILE: '/home/me/lab.yaml' });
    assert.equal(named.read('cli'), '--context kind-mec-testbed prediction /home/me/lab.yaml\n');
    assert.match(named.read('settings'), /MEC_PREDICTION=\{"profile":"\/home\/me\/lab\.yaml"/);
    assert.doesNotMatch(named.read('settings'), /MEC_PROFILE=/);

    const noCli = run('no-cli', { MEC_PROFILE: 'far-cloud' }, false);
    assert.equal(noCli.status, 0, noCli.stderr);
    assert.match(noCli.read('settings'), /^--from-literal=MEC_PROFILE=far-cloud$/m);
  });

  it('stops with the reason when the image cannot be pulled, and when thresholds fail still copies the summary', () => {
    const pull = run('pull', {
      FAKE_WAITING: 'ImagePullBackOff',
      FAKE_WAITING_MESSAGE: 'Back-off pulling image',
    });
    assert.equal(pull.status, 1);
    assert.match(pull.stderr, /cannot start \(ImagePullBackOff: Back-off pulling image\); check K6_IMAGE/);

    const failed = run('thresholds', { FAKE_JOB_STATUS: '/1' });
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /failed thresholds/);
    assert.match(failed.stdout, /copied to /);
  });

  it('passes shellcheck', (t) => {
    if (!need(t, commandWorks('shellcheck', ['--version'], 'shellcheck (apt-get install shellcheck)')))
      return;
    const r = spawnSync('shellcheck', ['loadtest/run.sh', 'hack/dev/node.sh'], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout);
  });

  it('gives up after MEC_START_TIMEOUT, naming what the pod waited for', () => {
    const r = run('slow', { MEC_START_TIMEOUT: '0' });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /did not start in 0s \(ContainerCreating: Pulling image .*raise MEC_START_TIMEOUT/,
    );
  });
});
