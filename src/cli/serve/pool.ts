import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo, Socket } from 'node:net';
import type { ReloadResult } from '../../application.js';
import type { Logger } from '../../logger.js';
import { plural } from '../output.js';
import type { RawStats } from '../../internal.js';
import { CrashLedger } from './crash-ledger.js';
import { RetiredCounts } from './retired.js';
import { CLOSE_BOUND_MS } from './timeouts.js';
import { STICKY_ENV } from './options.js';
import { isFromWorker, type FromWorker, type LoadFailure, type ToWorker } from './messages.js';

// A worker that dies unannounced is replaced. One that served for SERVED_MS
// first is replaced at once; one that dies before (a crash at start) after
// a delay that doubles each time (0.1 s up to 10 s), so that a crash loop
// does not spin. A worker that reports a crash is replaced at once, before
// it is gone: it still drains its other requests.
const MIN_RESTART_MS = 100;
const MAX_RESTART_MS = 10_000;
const SERVED_MS = 1_000;
/** A reload reads files and compares them; a worker silent this long is reported. */
const ANSWER_MS = 30_000;
/** A worker busy past this is left out of /status and /metrics rather than holding them up. */
const STATS_ANSWER_MS = 2_000;
/** How long a rolling reload waits for the new workers to load and listen. */
export const ROLL_BOUND_MS = 120_000;
/** Past the drain and the closing of sites, a worker still running is killed. */
const STOP_GRACE_MS = 5_000;

/** One worker's answer to an in-place reload. */
export interface ReloadReply {
  readonly pid: number;
  readonly result?: ReloadResult;
  readonly error?: string;
}

/** What `serve` settles at start and after each reload. */
export interface PoolSettings {
  readonly preload: boolean;
  readonly crashLimit: number;
  /** Milliseconds. */
  readonly crashWindow: number;
}

export interface PoolOptions {
  readonly workers: number;
  readonly drainMs: number;
  readonly sticky: boolean;
  readonly settings: () => PoolSettings;
  /** The workers' TLS listener's port: its 'listening' is not the address serve announces. */
  readonly httpsPort?: number | undefined;
}

/** A rolling reload's outcome: taken, with the sites that failed to load; or refused, and why. */
export type RollOutcome =
  | { readonly ok: true; readonly failures: readonly LoadFailure[] }
  | { readonly ok: false; readonly reason: string; readonly failures: readonly LoadFailure[] };

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

interface Member {
  readonly worker: Worker;
  readonly pid: number;
  readonly generation: number;
  readonly slot: number;
  /** What it loads before it listens. */
  readonly load: 'all' | readonly string[];
  /** `leaving`: told to stop, or crashed; never replaced again. */
  phase: 'starting' | 'serving' | 'leaving';
  loaded: readonly LoadFailure[] | undefined;
  listeningAt: number | undefined;
  /** The pid of the worker it replaces. */
  readonly replaces: number | undefined;
  /** What it said before exiting, when it could not serve. */
  failure: string | undefined;
  /** Questions waiting for its answer, by id. */
  readonly pending: Map<number, (reply: FromWorker | { hostmux: 'gone'; message: string }) => void>;
  /** Until it says it is ready, messages are held here: sent earlier, they would be lost. */
  held: ToWorker[] | undefined;
  /** Set while something waits for it to load or to serve. */
  onLoaded: Waiter | undefined;
  onServing: Waiter | undefined;
  /** Set once it has left: resolves when it stopped taking connections (or exited). */
  onDraining: (() => void) | undefined;
  /** Started by start() or a rolling reload, which deal with its failure until it serves. */
  broughtUp: boolean;
  /** It reported a crash: replaced already, it serves until its replacement does. */
  crashed: boolean;
  /** It sent its final counts (exiting): they are in `retired`, it is not asked again. */
  counted: boolean;
}

function ignoreSendError(): void {}

function describeExit(code: number | null, signal: string | null): string {
  return signal !== null ? `signal ${signal}` : `code ${code}`;
}

/** FNV-1a: the same client address always picks the same slot. */
function slotOf(address: string, slots: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) hash = Math.imul(hash ^ address.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % slots;
}

/**
 * The cluster workers of `serve`: forks them in generations, replaces one
 * that dies, rolls a new generation in on a reload, counts crashes per site
 * and quarantines, and (with --sticky) hands each connection to the worker
 * of its client address's slot.
 */
export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #log: () => Logger;
  readonly #members = new Map<number, Member>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #crashes: CrashLedger;
  /** The generation that serves; a rolling reload starts the next. */
  #generation = 1;
  /** The current generation's serving worker in each slot (--sticky). */
  readonly #slots: (Member | undefined)[];
  #restartDelay = 0;
  #questions = 0;
  #stopping = false;
  #exits: (() => void) | undefined;
  /** Workers that exited non-zero while stopping: their drain cut requests off. */
  #unclean = 0;
  #address: AddressInfo | undefined;

  constructor(options: PoolOptions, log: () => Logger) {
    this.#options = options;
    this.#log = log;
    this.#slots = new Array<Member | undefined>(options.workers).fill(undefined);
    this.#crashes = new CrashLedger();
    cluster.on('listening', (worker, address) => this.#listening(worker, address as unknown as AddressInfo));
    cluster.on('message', (worker, message: unknown) => this.#message(worker, message));
    cluster.on('exit', (worker, code, signal) => this.#exit(worker, code, signal));
  }

  /**
   * Forks the first generation; resolves once every worker serves, with
   * the sites that failed to load (each once); rejects when one cannot start.
   */
  async start(): Promise<{ address: AddressInfo | undefined; failures: LoadFailure[] }> {
    const load = this.#options.settings().preload ? 'all' : [];
    const members = Array.from({ length: this.#options.workers }, (_, slot) => this.#fork(1, slot, load));
    const failures = await this.#bringUp(members, () => true);
    return { address: this.#address, failures };
  }

  /**
   * A rolling reload: a new generation of workers loads (every site with
   * preload, else the sites the serving workers have loaded) and listens;
   * only then are the old workers told to stop taking connections and to
   * drain. A new worker that cannot come up, or a site that serves now and
   * fails to load in the new workers, leaves the old generation serving.
   */
  async roll(): Promise<RollOutcome> {
    const old = this.#current();
    const preload = this.#options.settings().preload;
    // What serves now: a site that does must not fail in its replacement.
    const serving = new Set(old.length === 0 ? [] : await this.#readySites(old[0]!));
    const next = this.#generation + 1;
    const load = preload ? 'all' : [...serving];
    const members = Array.from({ length: this.#options.workers }, (_, slot) => this.#fork(next, slot, load));
    let failures: LoadFailure[] = [];
    try {
      failures = await this.#bringUp(members, (loaded) => {
        const broken = loaded.filter((failure) => serving.has(failure.site));
        if (broken.length === 0) return true;
        failures = loaded;
        throw new Error(`${plural(broken.length, 'site')} that ${broken.length === 1 ? 'serves' : 'serve'} now failed to load in the new workers: ${broken.map((f) => f.message).join('; ')}`);
      });
    } catch (error) {
      for (const member of members) void this.#leave(member, true);
      return { ok: false, reason: (error as Error).message, failures };
    }
    this.#generation = next;
    this.#slots.fill(undefined);
    for (const member of members) if (member.phase === 'serving') this.#slots[member.slot] = member;
    // A reload lifts every quarantine: the new workers were started without any.
    this.#crashes.clear();
    // Done once no old worker takes a new connection (bounded: one that does not say so is still leaving).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(old.map((member) => this.#leave(member, true))),
      new Promise((resolve) => (timer = setTimeout(resolve, ANSWER_MS))),
    ]);
    clearTimeout(timer);
    return { ok: true, failures };
  }

  /** Tells every serving worker to reload in place; resolves with each one's answer. */
  reloadInPlace(): Promise<ReloadReply[]> {
    this.#crashes.clear();
    const members = [...this.#members.values()].filter((m) => m.phase !== 'leaving');
    return Promise.all(members.map(async (member): Promise<ReloadReply> => {
      this.#send(member, { hostmux: 'lift' });
      const reply = await this.#ask(member, (id) => ({ hostmux: 'reload', id }));
      if (reply.hostmux === 'reloaded') return { pid: member.pid, result: reply.result };
      return { pid: member.pid, error: reply.hostmux === 'reload-failed' || reply.hostmux === 'gone' ? reply.message : 'no answer' };
    }));
  }

  /** What exited workers counted. */
  readonly retired = new RetiredCounts();

  /** Every running worker's raw statistics (those that do not answer within the bound are left out). */
  async stats(): Promise<RawStats[]> {
    const replies = await Promise.all(this.#uncounted().map((member) => this.#ask(member, (id) => ({ hostmux: 'stats', id }), STATS_ANSWER_MS)));
    return replies.flatMap((reply) => (reply.hostmux === 'stats' ? [reply.stats] : []));
  }

  /** Every running worker's prom-client metrics, as JSON. */
  async metrics(): Promise<unknown[][]> {
    const replies = await Promise.all(this.#uncounted().map((member) => this.#ask(member, (id) => ({ hostmux: 'metrics', id }), STATS_ANSWER_MS)));
    return replies.flatMap((reply) => (reply.hostmux === 'metrics' ? [[...reply.metrics]] : []));
  }

  /** Whether the first generation serves and the pool is not stopping. */
  get serving(): boolean {
    return !this.#stopping && this.#current().some((member) => member.phase === 'serving');
  }

  /** Tells every worker to reopen its log files. */
  reopenLogs(): void {
    for (const member of this.#members.values()) this.#send(member, { hostmux: 'reopen' });
  }

  /** Hands a connection the primary accepted to its client address's worker (--sticky). */
  dispatch(socket: Socket): void {
    const slots = this.#slots.length;
    const first = slotOf(socket.remoteAddress ?? '', slots);
    for (let i = 0; i < slots; i++) {
      const member = this.#slots[(first + i) % slots];
      if (member === undefined || !member.worker.isConnected()) continue;
      member.worker.send({ hostmux: 'connection' } satisfies ToWorker, socket, { keepOpen: false }, (error) => {
        if (error != null) socket.destroy();
      });
      return;
    }
    // No worker serves (all are being replaced): the client retries, as after a refused connection.
    socket.destroy();
  }

  /**
   * Tells every worker to drain and waits for all to exit. Resolves with
   * whether every one exited cleanly (nothing cut off at the drain bound).
   */
  stop(): Promise<boolean> {
    this.#stopping = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const member of this.#members.values()) {
      member.onLoaded?.reject(new Error('stopping'));
      member.onServing?.reject(new Error('stopping'));
      this.#send(member, { hostmux: 'stop', gentle: false });
    }
    return new Promise((resolve) => {
      const kill = setTimeout(() => {
        for (const { worker } of this.#members.values()) worker.process.kill('SIGKILL');
      }, this.#options.drainMs + CLOSE_BOUND_MS + STOP_GRACE_MS);
      this.#exits = () => {
        if (this.#members.size > 0) return;
        clearTimeout(kill);
        resolve(this.#unclean === 0);
      };
      this.#exits();
    });
  }

  /** Ends every worker's drain now. */
  cut(): void {
    for (const member of this.#members.values()) this.#send(member, { hostmux: 'cut' });
  }

  /** How many workers are running, starting or draining. */
  get size(): number {
    return this.#members.size;
  }

  /** Running workers whose counts are not in `retired` yet. */
  #uncounted(): Member[] {
    return [...this.#members.values()].filter((member) => !member.counted && member.held === undefined);
  }

  /** The workers of the serving generation that have not left. */
  #current(): Member[] {
    return [...this.#members.values()].filter((m) => m.generation === this.#generation && m.phase !== 'leaving');
  }

  #fork(generation: number, slot: number, load: 'all' | readonly string[], replaces?: number): Member {
    // With --port 0 a replacement asks for port 0 too: the primary keys its shared
    // handle by the port asked for, so it gets the same port while any worker lives.
    const worker = cluster.fork(this.#options.sticky ? { [STICKY_ENV]: '1' } : {});
    const member: Member = {
      worker, pid: worker.process.pid ?? 0, generation, slot, load, phase: 'starting', loaded: undefined,
      listeningAt: undefined, replaces, failure: undefined, pending: new Map(), held: [],
      onLoaded: undefined, onServing: undefined, onDraining: undefined, broughtUp: false, crashed: false, counted: false,
    };
    this.#members.set(worker.id, member);
    return member;
  }

  /**
   * Waits for each member to load; `accept` sees every failure to load and
   * throws to refuse; then tells them to listen and waits until they serve.
   * Bounded by ROLL_BOUND_MS. Resolves with the failures, each site once.
   */
  async #bringUp(members: Member[], accept: (failures: LoadFailure[]) => boolean): Promise<LoadFailure[]> {
    for (const member of members) member.broughtUp = true;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the new workers did not load and listen within ${ROLL_BOUND_MS / 1000} s`)), ROLL_BOUND_MS);
    });
    try {
      const loaded = await Promise.race([Promise.all(members.map((m) => this.#waitFor(m, 'onLoaded'))), bound]);
      void loaded;
      const bySite = new Map<string, LoadFailure>();
      for (const member of members) for (const failure of member.loaded ?? []) if (!bySite.has(failure.site)) bySite.set(failure.site, failure);
      const failures = [...bySite.values()];
      accept(failures);
      for (const member of members) this.#send(member, { hostmux: 'listen' });
      await Promise.race([Promise.all(members.map((m) => this.#waitFor(m, 'onServing'))), bound]);
      for (const member of members) member.broughtUp = false;
      return failures;
    } finally {
      clearTimeout(timer);
    }
  }

  #waitFor(member: Member, what: 'onLoaded' | 'onServing'): Promise<void> {
    if (what === 'onLoaded' && member.loaded !== undefined) return Promise.resolve();
    if (what === 'onServing' && member.phase === 'serving') return Promise.resolve();
    return new Promise((resolve, reject) => {
      member[what] = { resolve, reject };
    });
  }

  /** Asks one worker and waits (bounded) for its answer. */
  #ask(member: Member, question: (id: number) => ToWorker, bound = ANSWER_MS): Promise<FromWorker | { hostmux: 'gone'; message: string }> {
    const id = ++this.#questions;
    return new Promise((resolve) => {
      const timer = setTimeout(() => answer({ hostmux: 'gone', message: `worker ${member.pid} did not answer within ${bound / 1000} s` }), bound);
      const answer = (reply: FromWorker | { hostmux: 'gone'; message: string }) => {
        clearTimeout(timer);
        member.pending.delete(id);
        resolve(reply);
      };
      member.pending.set(id, answer);
      this.#send(member, question(id));
    });
  }

  async #readySites(member: Member): Promise<string[]> {
    const reply = await this.#ask(member, (id) => ({ hostmux: 'states', id }));
    return reply.hostmux === 'states' ? [...reply.ready] : [];
  }

  /** Stops a member taking connections and lets it drain; it is not replaced. Resolves once it takes no new connection. */
  #leave(member: Member, gentle: boolean): Promise<void> {
    if (member.phase === 'leaving') return Promise.resolve();
    member.phase = 'leaving';
    if (this.#slots[member.slot] === member) this.#slots[member.slot] = undefined;
    const left = new Promise<void>((resolve) => (member.onDraining = resolve));
    this.#send(member, { hostmux: 'stop', gentle });
    return left;
  }

  #send(member: Member, message: ToWorker): void {
    if (member.held !== undefined) member.held.push(message);
    // A worker that just died can still look connected: the write then fails
    // with EPIPE, which without a callback is an 'error' event that would end
    // the primary. Its 'exit' is handled on its own.
    else if (member.worker.isConnected()) member.worker.send(message, ignoreSendError);
  }

  #serving(member: Member): void {
    if (member.phase !== 'starting') return;
    member.phase = 'serving';
    member.listeningAt = Date.now();
    if (member.generation === this.#generation) this.#slots[member.slot] = member;
    if (member.replaces !== undefined) {
      this.#log().info(`worker ${member.pid} is serving, replacing worker ${member.replaces}`);
      // A crashed worker it replaces may stop taking connections now.
      for (const other of this.#members.values()) if (other.pid === member.replaces && other.crashed) void this.#leave(other, true);
    }
    member.onServing?.resolve();
    member.onServing = undefined;
  }

  #listening(worker: Worker, address: AddressInfo): void {
    const member = this.#members.get(worker.id);
    if (member === undefined) return;
    if (address.port === this.#options.httpsPort) return;
    this.#address ??= address;
    this.#serving(member);
  }

  #message(worker: Worker, message: unknown): void {
    const member = this.#members.get(worker.id);
    if (member === undefined || !isFromWorker(message)) return;
    switch (message.hostmux) {
      case 'ready': {
        const held = member.held ?? [];
        member.held = undefined;
        // A new generation (a reload) starts with no quarantine: the reload lifts them.
        const quarantined = member.generation > this.#generation ? {} : this.#crashes.quarantined();
        this.#send(member, { hostmux: 'start', quarantined, load: member.load });
        for (const each of held) this.#send(member, each);
        break;
      }
      case 'loaded':
        member.loaded = message.failures;
        member.onLoaded?.resolve();
        member.onLoaded = undefined;
        break;
      case 'serving':
        this.#serving(member);
        break;
      case 'failed':
        member.failure = message.message;
        break;
      case 'crashed':
        this.#crashed(member, message.sites);
        break;
      case 'draining':
        member.onDraining?.();
        break;
      case 'exiting':
        if (message.final !== undefined) {
          member.counted = true;
          this.retired.add(message.final);
        }
        this.#send(member, { hostmux: 'exit' });
        break;
      case 'reloaded':
      case 'reload-failed':
      case 'states':
      case 'stats':
      case 'metrics':
        member.pending.get(message.id)?.(message);
        break;
    }
  }

  /** A worker reported a crash: its replacement starts now, while it still serves; the site's crashes are counted. */
  #crashed(member: Member, sites: readonly string[]): void {
    if (member.crashed || member.phase === 'leaving' || this.#stopping) return;
    member.crashed = true;
    if (member.phase === 'serving' && member.generation === this.#generation) this.#replace(member, 0);
    else void this.#leave(member, true);
    const { crashLimit, crashWindow } = this.#options.settings();
    for (const site of sites) {
      if (!this.#crashes.record(site, crashLimit, crashWindow)) continue;
      const seconds = crashWindow / 1000;
      this.#log().error(`site ${site} crashed a worker ${plural(crashLimit, 'time')} within ${seconds} s: quarantined for ${seconds} s (it answers 503); a reload lifts it`);
      for (const other of this.#members.values()) if (other.phase !== 'leaving') this.#send(other, { hostmux: 'quarantine', site, seconds });
    }
  }

  #replace(member: Member, delay: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopping && member.generation === this.#generation) {
        const replacement = this.#fork(member.generation, member.slot, this.#options.settings().preload ? 'all' : member.load, member.pid);
        // It takes connections as soon as it has loaded: every failure was logged when the generation started.
        void this.#waitFor(replacement, 'onLoaded').then(() => this.#send(replacement, { hostmux: 'listen' }), () => {});
      }
    }, delay);
    this.#timers.add(timer);
  }

  #exit(worker: Worker, code: number | null, signal: string | null): void {
    const member = this.#members.get(worker.id);
    if (member === undefined) return;
    this.#members.delete(worker.id);
    if (this.#slots[member.slot] === member) this.#slots[member.slot] = undefined;
    for (const answer of member.pending.values()) answer({ hostmux: 'gone', message: `worker ${member.pid} exited` });
    member.onDraining?.();
    const why = member.failure ?? `exited with ${describeExit(code, signal)}`;
    const waiting = member.onLoaded ?? member.onServing;
    waiting?.reject(new Error(`worker ${member.pid} could not start: ${why}`));
    if (this.#stopping) {
      if (code !== 0) this.#unclean++;
      this.#exits?.();
      return;
    }
    // Left on purpose (a reload, a crash already replaced), or one that never got to serve.
    if (member.phase === 'leaving' || member.crashed || member.generation !== this.#generation || member.broughtUp) return;
    const served = member.listeningAt === undefined ? 0 : Date.now() - member.listeningAt;
    this.#restartDelay = served >= SERVED_MS ? 0 : Math.min(Math.max(this.#restartDelay * 2, MIN_RESTART_MS), MAX_RESTART_MS);
    this.#log().error(`worker ${member.pid} ${member.failure === undefined ? why : `could not serve: ${why}`}; starting another in ${this.#restartDelay / 1000} s`);
    this.#replace(member, this.#restartDelay);
  }
}
