import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import type { ReloadResult } from '../../application.js';
import type { Logger } from '../../logger.js';
import { CLOSE_BOUND_MS } from './timeouts.js';
import { isFromWorker, type ToWorker } from './messages.js';
import type { ServeOptions } from './options.js';

// A worker that dies is replaced. One that served for SERVED_MS first is
// replaced at once: a site that crashes its worker now and then must not
// delay every replacement until no worker is left. One that dies before it
// served that long (a crash at start) is replaced after a delay that doubles
// each time (0.1 s up to 10 s), so that a crash loop does not spin.
const MIN_RESTART_MS = 100;
const MAX_RESTART_MS = 10_000;
const SERVED_MS = 1_000;
/** A reload reads files and compares them; a worker silent this long is reported. */
const RELOAD_ANSWER_MS = 30_000;
/** Past the drain and the closing of sites, a worker still running is killed. */
const STOP_GRACE_MS = 5_000;

/** One worker's answer to a reload. */
export interface ReloadReply {
  readonly pid: number;
  readonly result?: ReloadResult;
  readonly error?: string;
}

interface Member {
  readonly worker: Worker;
  /** When it began to listen; undefined until then. */
  listeningAt: number | undefined;
  /** The pid of the worker it replaces. */
  readonly replaces: number | undefined;
  /** What it said before exiting, when it could not serve. */
  failure: string | undefined;
  /** Reloads waiting for its answer, by id. */
  readonly pending: Map<number, (reply: ReloadReply) => void>;
  /** Until it says it is ready, messages are held here: sent earlier, they would be lost. */
  held: ToWorker[] | undefined;
}

function describeExit(code: number | null, signal: string | null): string {
  return signal !== null ? `signal ${signal}` : `code ${code}`;
}

/** The cluster workers of `serve`: forks, replaces, reloads and stops them. */
export class WorkerPool {
  readonly #options: ServeOptions;
  readonly #log: () => Logger;
  readonly #members = new Map<number, Member>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #restartDelay = 0;
  #reloads = 0;
  #stopping = false;
  /** Until every first worker listens: then a death stops the server rather than being replaced. */
  #starting: { resolve(address: AddressInfo): void; reject(error: Error): void } | undefined;
  #exits: (() => void) | undefined;
  /** Workers that exited non-zero while stopping: their drain cut requests off. */
  #unclean = 0;

  constructor(options: ServeOptions, log: () => Logger) {
    this.#options = options;
    this.#log = log;
    cluster.on('listening', (worker, address) => this.#listening(worker, address as unknown as AddressInfo));
    cluster.on('message', (worker, message: unknown) => this.#message(worker, message));
    cluster.on('exit', (worker, code, signal) => this.#exit(worker, code, signal));
  }

  /** Forks every worker; resolves once all listen, rejects when one fails first. */
  start(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#starting = { resolve, reject };
      for (let i = 0; i < this.#options.workers; i++) this.#fork();
    });
  }

  /** Tells every worker to reload; resolves with each one's answer. */
  reload(): Promise<ReloadReply[]> {
    const id = ++this.#reloads;
    return Promise.all([...this.#members.values()].map((member) => new Promise<ReloadReply>((resolve) => {
      const pid = member.worker.process.pid ?? 0;
      const timer = setTimeout(() => answer({ pid, error: `worker ${pid} did not answer within ${RELOAD_ANSWER_MS / 1000} s` }), RELOAD_ANSWER_MS);
      const answer = (reply: ReloadReply) => {
        clearTimeout(timer);
        member.pending.delete(id);
        resolve(reply);
      };
      member.pending.set(id, answer);
      this.#send(member, { hostmux: 'reload', id });
    })));
  }

  /**
   * Tells every worker to drain and waits for all to exit. Resolves with
   * whether every one exited cleanly (nothing cut off at the drain bound).
   */
  stop(): Promise<boolean> {
    this.#stopping = true;
    this.#starting = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const member of this.#members.values()) this.#send(member, { hostmux: 'stop' });
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

  /** How many workers are running or starting. */
  get size(): number {
    return this.#members.size;
  }

  #fork(replaces?: number): void {
    // With --port 0 a replacement asks for port 0 too: the primary keys its shared
    // handle by the port asked for, so it gets the same port while any worker lives.
    const worker = cluster.fork();
    this.#members.set(worker.id, { worker, listeningAt: undefined, replaces, failure: undefined, pending: new Map(), held: [] });
  }

  #send(member: Member, message: ToWorker): void {
    if (member.held !== undefined) member.held.push(message);
    else if (member.worker.isConnected()) member.worker.send(message);
  }

  #listening(worker: Worker, address: AddressInfo): void {
    const member = this.#members.get(worker.id);
    if (member === undefined) return;
    member.listeningAt = Date.now();
    if (member.replaces !== undefined) this.#log().info(`worker ${worker.process.pid} is serving, replacing worker ${member.replaces}`);
    if (this.#starting !== undefined && [...this.#members.values()].every((m) => m.listeningAt !== undefined)) {
      this.#starting.resolve(address);
      this.#starting = undefined;
    }
  }

  #message(worker: Worker, message: unknown): void {
    const member = this.#members.get(worker.id);
    if (member === undefined || !isFromWorker(message)) return;
    const pid = worker.process.pid ?? 0;
    if (message.hostmux === 'ready') {
      const held = member.held ?? [];
      member.held = undefined;
      for (const message of held) this.#send(member, message);
    } else if (message.hostmux === 'failed') member.failure = message.message;
    else if (message.hostmux === 'reloaded') member.pending.get(message.id)?.({ pid, result: message.result });
    else if (message.hostmux === 'reload-failed') member.pending.get(message.id)?.({ pid, error: message.message });
  }

  #exit(worker: Worker, code: number | null, signal: string | null): void {
    const member = this.#members.get(worker.id);
    if (member === undefined) return;
    this.#members.delete(worker.id);
    const pid = worker.process.pid ?? 0;
    for (const answer of member.pending.values()) answer({ pid, error: `worker ${pid} exited` });
    if (this.#stopping) {
      if (code !== 0) this.#unclean++;
      this.#exits?.();
      return;
    }
    const why = member.failure ?? `exited with ${describeExit(code, signal)}`;
    if (this.#starting !== undefined) {
      this.#starting.reject(new Error(`worker ${pid} could not start: ${why}`));
      this.#starting = undefined;
      return;
    }
    const served = member.listeningAt === undefined ? 0 : Date.now() - member.listeningAt;
    this.#restartDelay = served >= SERVED_MS ? 0 : Math.min(Math.max(this.#restartDelay * 2, MIN_RESTART_MS), MAX_RESTART_MS);
    this.#log().error(`worker ${pid} ${member.failure === undefined ? why : `could not serve: ${why}`}; starting another in ${this.#restartDelay / 1000} s`);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopping) this.#fork(pid);
    }, this.#restartDelay);
    this.#timers.add(timer);
  }
}
