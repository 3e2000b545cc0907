// Tests that need something this machine may lack (Docker, Prometheus, the Kubernetes binaries, tc in a
// network namespace) ask here. Locally they skip and say why; in CI (MEC_TESTBED_STRICT=1, set by .ci/run)
// a missing requirement fails the test instead, so a skipped check is never reported as passing.
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const STRICT = process.env.MEC_TESTBED_STRICT === '1';

/** Returns a reason when the requirement is missing, or undefined when it is met. */
export type Requirement = () => string | undefined;

/**
 * Call first in a test (or a `before` hook via `describe`'s options) that needs `requirement`. Returns true
 * when the test may go on; otherwise it has skipped the test with the reason, or (strict) thrown.
 */
export function need(t: TestContext, requirement: Requirement): boolean {
  const missing = requirement();
  if (missing === undefined) return true;
  if (STRICT) throw new Error(`required in CI but missing: ${missing}`);
  t.skip(`needs ${missing}`);
  return false;
}

/** For `describe(name, { skip: skipUnless(req) }, …)`: a skip reason, or false; throws when strict. */
export function skipUnless(requirement: Requirement): string | false {
  const missing = requirement();
  if (missing === undefined) return false;
  if (STRICT) throw new Error(`required in CI but missing: ${missing}`);
  return `needs ${missing}`;
}

export function commandWorks(command: string, args: string[], what: string): Requirement {
  return () => {
    try {
      execFileSync(command, args, { stdio: 'ignore', timeout: 10_000 });
      return undefined;
    } catch {
      return `${what} (\`${command} ${args.join(' ')}\` failed)`;
    }
  };
}

export const docker: Requirement = commandWorks('docker', ['info'], 'a running Docker engine');
export const prometheus: Requirement = commandWorks('prometheus', ['--version'], 'the prometheus binary');
export const promtool: Requirement = commandWorks('promtool', ['--version'], 'promtool');
export const root: Requirement = () =>
  process.getuid?.() === 0 ? undefined : 'root (network namespaces and tc need CAP_NET_ADMIN)';
