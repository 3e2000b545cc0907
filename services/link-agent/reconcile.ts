// The reconcile loop: from the profile ConfigMap, the Nodes and the netem probe to the tc tree on this node,
// and to the gauges and status that say what is applied. Events only record the newest inputs and trigger a
// debounced, serialised pass; each pass recomputes the whole plan (pure, plan.ts), reads the device back,
// applies the difference and publishes. A refused profile never reaches the device: the last good one stays.
import { createHash } from 'node:crypto';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { type Logger, silentLogger } from '../skeleton/logger.ts';
import { ProfileError, parseProfileText, type Topology } from '../topology/index.ts';
import type { AgentMetrics } from './metrics.ts';
import { type NodeView, peersOf } from './nodes.ts';
import {
  type Command,
  type DesiredTree,
  desiredTree,
  diffPlan,
  formatCommand,
  type LeafKind,
  leafSpec,
  SITE_LABEL,
  summarize,
  teardownPlan,
} from './plan.ts';
import type { ProbeResult } from './probe.ts';
import { applyCommands, type CommandRunner, observe, qdiscStats } from './runner.ts';
import { type AgentStatus, NAMESPACE, PROFILE_CONFIGMAP, PROFILE_KEY } from './status.ts';

export interface ReconcilerOptions {
  nodeName: string;
  device: string;
  runner: CommandRunner;
  metrics: AgentMetrics;
  publishStatus: (status: AgentStatus, nodeUid?: string) => Promise<void>;
  leaf?: LeafKind;
  /** `off`: probe and report, shape nothing (and remove a tree an earlier agent left). */
  mode?: 'netem' | 'off';
  /** Where the profile ConfigMap lives and what it is called (for messages). */
  namespace?: string;
  profileConfigMap?: string;
  log?: Logger;
  /** Events arriving within this window make one pass. */
  debounceMs?: number;
  /** Re-read the device this often even when nothing changed (someone may have touched it). */
  resyncMs?: number;
  /** First retry after a failed pass; doubles up to resyncMs. */
  retryMs?: number;
  /** Republish an unchanged status this often, so its timestamp shows the agent is alive. */
  heartbeatMs?: number;
  /** How often drop counters are read and resync/heartbeat deadlines checked. */
  tickMs?: number;
  now?: () => Date;
}

type Desired = { tree?: DesiredTree; idleReason?: string; warnings: string[]; error?: string };

export class Reconciler {
  readonly #o: Required<ReconcilerOptions>;
  #profile?: Topology;
  #profileText?: string;
  #profileProblems: string[] = [];
  #profileSynced = false;
  #nodes = new Map<string, NodeView>();
  #nodesSynced = false;
  #netem?: ProbeResult;

  #appliedHash?: string;
  #appliedTree?: DesiredTree;
  #appliedLeaves = new Map<string, string>();
  #inSync = false;
  #lastObservedAt = 0;
  #lastError?: { message: string; at: string };
  #lastAppliedAt?: string;
  #failures = 0;
  #desired: Desired = { warnings: [] };

  #timer?: NodeJS.Timeout;
  #retryTimer?: NodeJS.Timeout;
  #tick?: NodeJS.Timeout;
  #running?: Promise<void>;
  #again = false;
  #stopped = false;
  #lastPublished?: string;
  #lastPublishedAt = 0;
  #passes = 0;

  constructor(options: ReconcilerOptions) {
    this.#o = {
      debounceMs: 100,
      resyncMs: 30_000,
      retryMs: 1000,
      heartbeatMs: 60_000,
      tickMs: 10_000,
      now: () => new Date(),
      ...options,
      leaf: options.leaf ?? 'netem',
      mode: options.mode ?? 'netem',
      namespace: options.namespace ?? NAMESPACE,
      profileConfigMap: options.profileConfigMap ?? PROFILE_CONFIGMAP,
      log: options.log ?? silentLogger,
    };
    this.#tick = setInterval(() => this.#onTick(), this.#o.tickMs);
    this.#tick.unref();
  }

  /** The start-up probe's answer. */
  setNetem(result: ProbeResult): void {
    this.#netem = result;
    this.#o.metrics.setNetemAvailable(this.#o.nodeName, result.available);
    if (!result.available)
      this.#o.log.warn('netem unavailable', { message: result.message, fix: result.fix });
    this.trigger('netem probed');
  }

  /** The profile ConfigMap (undefined: it does not exist). `synced` once the first list has been seen. */
  setProfileConfigMap(cm: V1ConfigMap | undefined): void {
    this.#profileSynced = true;
    const where = `ConfigMap ${this.#o.namespace}/${this.#o.profileConfigMap}`;
    const keeping = this.#profile ? `; keeping profile "${this.#profile.name}"` : '';
    const text = cm?.data?.[PROFILE_KEY];
    if (!cm) {
      this.#profileText = undefined;
      this.#profileProblems = this.#profile ? [`${where} was deleted${keeping}`] : [];
    } else if (text === undefined) {
      this.#profileText = undefined;
      this.#profileProblems = [`${where} has no key ${PROFILE_KEY}${keeping}`];
    } else if (text !== this.#profileText) {
      this.#profileText = text;
      try {
        this.#profile = parseProfileText(text, `${where} key ${PROFILE_KEY}`);
        this.#profileProblems = [];
        this.#o.log.info('profile accepted', { profile: this.#profile.name });
      } catch (err) {
        this.#profileProblems =
          err instanceof ProfileError
            ? err.problems.map((p) => `${err.source}: ${p.path || '(document)'}: ${p.message}`)
            : [(err as Error).message];
        if (this.#profile) this.#profileProblems.push(`refused${keeping}`);
        this.#o.log.warn('profile refused', { problems: this.#profileProblems });
      }
    }
    this.trigger('profile changed');
  }

  /** Every node the informer holds (those with the site label). */
  setNodes(nodes: Iterable<NodeView>): void {
    this.#nodesSynced = true;
    this.#nodes = new Map([...nodes].map((n) => [n.name, n]));
    this.trigger('nodes changed');
  }

  /** Schedules a pass (debounced); a pass running now is followed by another. */
  trigger(_reason = ''): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.reconcile();
    }, this.#o.debounceMs);
  }

  /** Runs a pass now (or after the one running). Resolves when it is done. */
  async reconcile(force = false): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pass(force);
        } while (this.#again && !this.#stopped);
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  /** Stops the loop and removes what the agent created (SIGTERM). */
  async shutdown(): Promise<Command[]> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#retryTimer);
    clearInterval(this.#tick);
    await this.#running;
    const observed = await observe(this.#o.runner, this.#o.device);
    const commands = teardownPlan(this.#o.device, observed);
    await applyCommands(this.#o.runner, commands);
    this.#appliedTree = undefined;
    this.#appliedHash = undefined;
    this.#o.metrics.setConfigured(undefined, undefined);
    this.#o.log.info('removed the tc tree', { commands: commands.map(formatCommand) });
    return commands;
  }

  status(): AgentStatus {
    const self = this.#nodes.get(this.#o.nodeName);
    const netem = this.#netem;
    return {
      node: this.#o.nodeName,
      ...(self ? { site: self.site } : {}),
      backend: 'netem',
      mode: this.#o.mode,
      ...(this.#profile ? { profile: this.#profile.name } : {}),
      ...(this.#appliedHash && this.#appliedTree ? { appliedHash: this.#appliedHash } : {}),
      inSync: this.#inSync,
      ...(this.#desired.idleReason ? { idleReason: this.#desired.idleReason } : {}),
      netem: netem
        ? {
            available: netem.available,
            ...(netem.cause ? { cause: netem.cause } : {}),
            message: netem.message,
            ...(netem.fix ? { fix: netem.fix } : {}),
          }
        : { available: null, message: 'not probed yet' },
      plan: this.#appliedTree ? summarize(this.#appliedTree) : [],
      warnings: this.#desired.warnings,
      profileProblems: this.#profileProblems,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      ...(this.#lastAppliedAt ? { lastAppliedAt: this.#lastAppliedAt } : {}),
      updatedAt: this.#o.now().toISOString(),
    };
  }

  /** For /healthz: the loop is alive and its last pass did not fail. */
  health(): { ok: boolean; passes: number; inSync: boolean; lastError?: string } {
    return {
      ok: !this.#stopped,
      passes: this.#passes,
      inSync: this.#inSync,
      ...(this.#lastError ? { lastError: this.#lastError.message } : {}),
    };
  }

  /** For /readyz: a pass has run and the device matches it (idle counts: nothing of ours is left). */
  readiness(): { ok: boolean; inSync: boolean; idleReason?: string; lastError?: string } {
    return {
      ok: !this.#stopped && this.#passes > 0 && this.#inSync,
      inSync: this.#inSync,
      ...(this.#desired.idleReason ? { idleReason: this.#desired.idleReason } : {}),
      ...(this.#lastError ? { lastError: this.#lastError.message } : {}),
    };
  }

  #compute(): Desired {
    const self = this.#nodes.get(this.#o.nodeName);
    if (this.#o.mode === 'off')
      return {
        idleReason: 'LINK_BACKEND=off: the netem backend is not selected; probing and reporting only',
        warnings: [],
      };
    if (this.#netem && !this.#netem.available)
      return { idleReason: `netem unavailable: ${this.#netem.message}`, warnings: [] };
    if (!this.#profile)
      return {
        idleReason: `waiting for a valid profile in ConfigMap ${this.#o.namespace}/${this.#o.profileConfigMap} (key ${PROFILE_KEY})`,
        warnings: [],
      };
    if (!self)
      return {
        idleReason: `node ${this.#o.nodeName} has no ${SITE_LABEL} label (or is not known yet): nothing to shape`,
        warnings: [],
      };
    if (self.controlPlane)
      return {
        idleReason: 'control-plane node: left alone so API and kubelet traffic is not delayed',
        warnings: [],
      };
    try {
      const { tree, warnings } = desiredTree({
        topology: this.#profile,
        site: self.site,
        peers: peersOf(this.#o.nodeName, this.#nodes.values()),
        device: this.#o.device,
        leaf: this.#o.leaf,
      });
      return { tree, warnings: warnings.map((w) => `node ${w.node}: ${w.message}`) };
    } catch (err) {
      return { idleReason: (err as Error).message, warnings: [], error: (err as Error).message };
    }
  }

  async #pass(force: boolean): Promise<void> {
    if (this.#stopped) return;
    // Act only on a complete picture: a pass before the first lists would tear down a good tree.
    if (!this.#netem || !this.#profileSynced || !this.#nodesSynced) return;
    this.#passes++;
    const desired = this.#compute();
    this.#desired = desired;
    const hash = desired.tree ? treeHash(desired.tree) : 'none';
    const now = this.#o.now();
    const due = now.getTime() - this.#lastObservedAt >= this.#o.resyncMs;
    if (force || due || hash !== this.#appliedHash || !this.#inSync) {
      try {
        const observed = await observe(this.#o.runner, this.#o.device);
        this.#lastObservedAt = now.getTime();
        const commands = desired.tree
          ? diffPlan(desired.tree, observed, this.#appliedLeaves)
          : teardownPlan(this.#o.device, observed);
        if (commands.length > 0) {
          this.#o.log.info('applying', { hash, commands: commands.map(formatCommand) });
          this.#inSync = false;
          await applyCommands(this.#o.runner, commands);
        }
        this.#appliedHash = hash;
        this.#appliedTree = desired.tree;
        this.#appliedLeaves = new Map(desired.tree?.classes.map((c) => [c.classid, leafSpec(c)]) ?? []);
        this.#inSync = true;
        this.#failures = 0;
        this.#lastError = desired.error ? { message: desired.error, at: now.toISOString() } : undefined;
        if (commands.length > 0 || !this.#lastAppliedAt) this.#lastAppliedAt = now.toISOString();
        this.#o.metrics.applied(now);
        this.#o.metrics.setConfigured(desired.tree, this.#profile);
      } catch (err) {
        this.#failed(err as Error, now);
      }
    }
    await this.#publish(now);
  }

  #failed(err: Error, now: Date): void {
    // What is on the device is unknown now: forget the fingerprints, read it back next time.
    this.#inSync = false;
    this.#appliedHash = undefined;
    this.#appliedLeaves.clear();
    this.#lastError = { message: err.message, at: now.toISOString() };
    this.#o.metrics.applyFailed();
    this.#o.log.error('reconcile failed', { err });
    const delay = Math.min(this.#o.resyncMs, this.#o.retryMs * 2 ** this.#failures++);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.trigger('retry'), delay);
    this.#retryTimer.unref();
  }

  async #publish(now: Date): Promise<void> {
    const status = this.status();
    const { updatedAt: _, ...content } = status;
    const key = JSON.stringify(content);
    if (key === this.#lastPublished && now.getTime() - this.#lastPublishedAt < this.#o.heartbeatMs) return;
    try {
      await this.#o.publishStatus(status, this.#nodes.get(this.#o.nodeName)?.uid);
      this.#lastPublished = key;
      this.#lastPublishedAt = now.getTime();
    } catch (err) {
      // Retried at the next tick; the tc tree does not depend on it.
      this.#o.log.warn('cannot publish status', { err });
    }
  }

  async #onTick(): Promise<void> {
    if (this.#stopped) return;
    const tree = this.#appliedTree;
    if (tree && this.#inSync) {
      try {
        const stats = await qdiscStats(this.#o.runner, this.#o.device);
        for (const c of tree.classes) {
          const leaf = stats.find((q) => q.parent === c.classid && q.kind === c.leaf.kind);
          if (leaf) this.#o.metrics.observeDrops(tree.site, c.to, leaf.drops);
        }
      } catch (err) {
        this.#o.log.warn('cannot read qdisc statistics', { err });
      }
    }
    this.trigger('tick');
  }
}

export function treeHash(tree: DesiredTree): string {
  return createHash('sha256').update(JSON.stringify(tree)).digest('hex').slice(0, 16);
}
