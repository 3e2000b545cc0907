// Can this kernel do what the netem backend needs? Tried for real at start, on a throwaway veth pair (never on
// lo or eth0): an htb root, a u32 filter, a tbf and a `netem delay 1ms`. A failure is classified from tc's
// message into a cause with the fix, so users read "the kernel has no sch_netem: do X" where they look (the
// status ConfigMap, the CLI, the agent's log, mec_link_netem_available) instead of meeting silence.
import { randomBytes } from 'node:crypto';
import { CommandError, type CommandRunner } from './runner.ts';

export type ProbeCheck = 'veth' | 'htb' | 'u32' | 'tbf' | 'netem';
export type ProbeCause = 'module-missing' | 'docker-desktop-vm' | 'no-net-admin' | 'unknown';

export interface ProbeResult {
  available: boolean;
  checks: Array<{ check: ProbeCheck; ok: boolean; error?: string }>;
  cause?: ProbeCause;
  /** One sentence: what works or what is missing. */
  message: string;
  /** What to do about it; absent when netem is available. */
  fix?: string;
}

const PROXY_FALLBACK =
  'Until then select the userspace proxy backend, which needs no kernel support (README: "Which backend to use when").';

export const FIXES: Record<ProbeCause, string> = {
  'module-missing':
    "The kernel has no sch_netem (kind nodes share the host's kernel and its /lib/modules). On the host: " +
    '`sudo modprobe sch_netem`; on Ubuntu cloud kernels install it first with ' +
    '`sudo apt-get install linux-modules-extra-$(uname -r)`. Some WSL2 and Podman-machine kernels lack it entirely. ' +
    PROXY_FALLBACK,
  'docker-desktop-vm':
    'The kernel answers "Operation not supported": Docker Desktop\'s VM kernel (and similar VMs) cannot run this qdisc. ' +
    PROXY_FALLBACK,
  'no-net-admin':
    "The agent lacks CAP_NET_ADMIN in the node's network namespace: its DaemonSet must run with hostNetwork: true " +
    'and securityContext.capabilities.add: ["NET_ADMIN"] (k8s/ does this; check a policy did not strip it).',
  unknown: `tc failed in a way the agent does not recognise; the message above says what the kernel answered. ${PROXY_FALLBACK}`,
};

/** The cause behind a tc/ip error message (iproute2's and the kernel's wording). */
export function classifyError(stderr: string): ProbeCause {
  if (/Operation not permitted|EPERM|Permission denied/i.test(stderr)) return 'no-net-admin';
  if (/Operation not supported|EOPNOTSUPP/i.test(stderr)) return 'docker-desktop-vm';
  if (
    /Specified qdisc kind is unknown|Specified qdisc not found|No such file or directory|Unknown qdisc/i.test(
      stderr,
    )
  )
    return 'module-missing';
  return 'unknown';
}

export interface ProbeOptions {
  /**
   * Create the veth pair inside this throwaway namespace (it is created and deleted here). That needs
   * CAP_SYS_ADMIN besides NET_ADMIN; the agent, which has only NET_ADMIN, probes on a throwaway veth pair in the
   * node's namespace instead (omit this).
   */
  netns?: string;
}

export async function probeNetem(runner: CommandRunner, options: ProbeOptions = {}): Promise<ProbeResult> {
  const suffix = randomBytes(3).toString('hex');
  const a = `mecpr${suffix}a`;
  const b = `mecpr${suffix}b`;
  const ns = options.netns;
  const inNs = (args: string[]) => (ns ? ['-n', ns, ...args] : args);
  const checks: ProbeResult['checks'] = [];
  const attempt = async (check: ProbeCheck, program: 'tc' | 'ip', args: string[][]) => {
    try {
      for (const a of args) await runner.run(program, inNs(a));
      checks.push({ check, ok: true });
      return true;
    } catch (err) {
      const text = err instanceof CommandError ? err.stderr.trim() || err.message : (err as Error).message;
      checks.push({ check, ok: false, error: text });
      return false;
    }
  };
  let nsCreated = false;
  let vethCreated = false;
  // A probe killed half-way (SIGKILL, OOM) leaves its pair behind; the names say they are the probe's.
  if (!ns) await removeLeftovers(runner);
  try {
    if (ns) {
      await runner.run('ip', ['netns', 'add', ns]);
      nsCreated = true;
    }
    vethCreated = await attempt('veth', 'ip', [
      ['link', 'add', a, 'type', 'veth', 'peer', 'name', b],
      ['link', 'set', a, 'up'],
      ['link', 'set', b, 'up'],
    ]);
    if (vethCreated) {
      const htb = await attempt('htb', 'tc', [
        ['qdisc', 'add', 'dev', a, 'root', 'handle', '1:', 'htb'],
        ['class', 'add', 'dev', a, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', '1gbit'],
      ]);
      if (htb)
        await attempt('u32', 'tc', [
          [
            'filter',
            'add',
            'dev',
            a,
            'parent',
            '1:',
            'protocol',
            'ip',
            'prio',
            '1',
            'u32',
            'match',
            'ip',
            'dst',
            '192.0.2.1/32',
            'flowid',
            '1:1',
          ],
        ]);
      await attempt('tbf', 'tc', [
        [
          'qdisc',
          'add',
          'dev',
          b,
          'root',
          'handle',
          '2:',
          'tbf',
          'rate',
          '1mbit',
          'burst',
          '32kbit',
          'latency',
          '400ms',
        ],
      ]);
      await attempt('netem', 'tc', [
        htb
          ? ['qdisc', 'add', 'dev', a, 'parent', '1:1', 'handle', '10:', 'netem', 'delay', '1ms']
          : ['qdisc', 'replace', 'dev', b, 'root', 'netem', 'delay', '1ms'],
      ]);
    }
  } catch (err) {
    const text = err instanceof CommandError ? err.stderr.trim() || err.message : (err as Error).message;
    checks.push({ check: 'veth', ok: false, error: `cannot create the throwaway namespace ${ns}: ${text}` });
  } finally {
    // Deleting one end removes the pair with every qdisc on it; the namespace goes last.
    if (vethCreated) await runner.run('ip', inNs(['link', 'del', a])).catch(() => undefined);
    if (nsCreated && ns) await runner.run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
  return summarise(checks);
}

export const PROBE_DEVICE = /^mecpr[0-9a-f]{6}a$/;

async function removeLeftovers(runner: CommandRunner): Promise<void> {
  try {
    const links = JSON.parse((await runner.run('ip', ['-j', 'link', 'show'])) || '[]') as Array<{
      ifname?: string;
    }>;
    for (const { ifname } of links) {
      if (ifname && PROBE_DEVICE.test(ifname))
        await runner.run('ip', ['link', 'del', ifname]).catch(() => undefined);
    }
  } catch {
    // Nothing to clean, or ip cannot list: the probe itself will say what is wrong.
  }
}

export function summarise(checks: ProbeResult['checks']): ProbeResult {
  const failed = checks.filter((c) => !c.ok);
  if (failed.length === 0 && checks.some((c) => c.check === 'netem')) {
    return { available: true, checks, message: 'the kernel can run htb, u32, tbf and netem' };
  }
  const first = failed[0];
  const cause = first?.error ? classifyError(first.error) : 'unknown';
  const names = failed.map((c) => c.check).join(', ') || 'netem (not reached)';
  return {
    available: false,
    checks,
    cause,
    message: `the netem backend cannot run here: ${names} failed${first?.error ? ` (${first.check}: ${first.error})` : ''}`,
    fix: FIXES[cause],
  };
}
