// A recording runner that also keeps the state the commands would leave on one device and answers `show` in
// tc 6.1's formats, so the reconcile tests see the read-back/diff cycle (a second pass with nothing new runs no
// command). It models only what the plan uses, and the kernel's refusals the plan must respect (a class with
// filters cannot go; replace cannot change a leaf's kind; no netem when the kernel lacks it). The real tc is
// checked in netns.test.ts.

import { parseTcRate } from './observe.ts';
import { formatCommand } from './plan.ts';
import { CallRecorder, CommandError, type CommandRunner, type Program, runBatch } from './runner.ts';

interface Leaf {
  kind: string;
  handle: string;
  limit: number;
  drops: number;
}

export class FakeTc extends CallRecorder implements CommandRunner {
  netem = true;
  /** Make the next matching changing command fail with this stderr (once). */
  failNext?: { match: RegExp; stderr: string };
  root: { kind: string; handle: string } = { kind: 'noqueue', handle: '0:' };
  classes = new Map<string, { parent: string; rate: number; ceil: number }>();
  leaves = new Map<string, Leaf>();
  filters: Array<{ prio: number; handle: string; flowid: string; match: string }> = [];
  #next = 0x800;

  async run(program: Program, args: string[], input?: string): Promise<string> {
    const batch = await runBatch(args, input, (line) => this.run(program, line));
    if (batch !== undefined) return batch;
    this.calls.push({ program, args: [...args] });
    if (program !== 'tc') return '';
    if (args.includes('show')) return this.#show(args);
    const line = formatCommand(args);
    if (this.failNext?.match.test(line)) {
      const { stderr } = this.failNext;
      this.failNext = undefined;
      throw new CommandError('tc', args, stderr, 2);
    }
    const fail = (stderr: string): never => {
      throw new CommandError('tc', args, stderr, 2);
    };
    const at = (word: string) => args[args.indexOf(word) + 1] ?? '';
    const [object, verb] = args;
    if (object === 'qdisc' && args.includes('root')) {
      if (verb === 'del') this.#reset();
      else if (this.root.handle !== at('handle')) {
        this.#reset();
        this.root = { kind: args[args.indexOf('handle') + 2] ?? '', handle: at('handle') };
      }
    } else if (object === 'qdisc') {
      const parent = at('parent');
      if (verb === 'del') this.leaves.delete(parent);
      else {
        const kind = args[args.indexOf('handle') + 2] ?? '';
        if (kind === 'netem' && !this.netem) fail('Error: Specified qdisc kind is unknown.');
        const have = this.leaves.get(parent);
        if (have && have.handle === at('handle') && have.kind !== kind)
          fail('Error: Invalid qdisc name: must match existing qdisc.');
        this.leaves.set(parent, { kind, handle: at('handle'), limit: Number(at('limit')), drops: 0 });
      }
    } else if (object === 'class') {
      const classid = at('classid');
      if (verb === 'del') {
        const children = [...this.classes.values()].some((c) => c.parent === classid);
        if (children || this.filters.some((f) => f.flowid === classid)) fail('Error: HTB class in use.');
        this.classes.delete(classid);
        this.leaves.delete(classid);
      } else {
        const have = this.classes.get(classid);
        if (have && have.parent !== at('parent')) fail('Error: Specified class not found.');
        const rate = parseTcRate(at('rate')) ?? 0;
        this.classes.set(classid, { parent: at('parent'), rate, ceil: parseTcRate(at('ceil')) ?? rate });
      }
    } else if (object === 'filter') {
      const prio = Number(at('prio'));
      if (verb === 'del')
        this.filters = this.filters.filter((f) => !(f.prio === prio && f.handle === at('handle')));
      else
        this.filters.push({
          prio,
          handle: `${(0x7ff + prio).toString(16)}::${(this.#next++).toString(16)}`,
          flowid: at('flowid'),
          match: at('dst'),
        });
    }
    return '';
  }

  #reset(): void {
    this.root = { kind: 'noqueue', handle: '0:' };
    this.classes.clear();
    this.leaves.clear();
    this.filters = [];
  }

  #show(args: string[]): string {
    if (args.includes('qdisc')) {
      const stats = { bytes: 0, packets: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 };
      return JSON.stringify([
        { kind: this.root.kind, handle: this.root.handle, root: true, options: {}, drops: 0, ...stats },
        ...[...this.leaves].map(([parent, l]) => ({
          kind: l.kind,
          handle: l.handle,
          parent,
          options: { limit: l.limit },
          drops: l.drops,
          ...stats,
        })),
      ]);
    }
    if (args.includes('class')) {
      return [...this.classes]
        .map(
          ([id, c]) =>
            `class htb ${id} ${c.parent === this.root.handle ? 'root' : `parent ${c.parent}`} prio 0 rate ${c.rate}bit ceil ${c.ceil}bit burst 1600b cburst 1600b `,
        )
        .join('\n');
    }
    return JSON.stringify(
      this.filters.map((f) => {
        const [host, len] = f.match.split('/');
        const value = (host ?? '').split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
        const mask = Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0;
        return {
          parent: 'ec:',
          protocol: 'ip',
          pref: f.prio,
          kind: 'u32',
          chain: 0,
          options: {
            fh: f.handle,
            flowid: f.flowid,
            match: { value: value.toString(16), mask: mask.toString(16), offmask: '', off: 16 },
          },
        };
      }),
    );
  }
}
