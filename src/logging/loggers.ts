import pino from 'pino';
import type { LogFn, Logger } from '../logger.js';
import type { Format, LevelName, LoggerSpec, LoggingConfig } from './config.js';
import type { Destination } from './destinations.js';
import { ACCESS_RECORD, formatAccessRecord, formatRecord, type AccessFields, type LogRecord } from './format.js';

/** One handler, opened: a format and where its lines go. */
export interface Sink {
  readonly format: Format;
  readonly destination: Destination;
}

/** Where the records of one configured logger (and its unconfigured descendants) end up. */
interface Route {
  readonly level: LevelName;
  /** Every handler a record reaches, own first, then up the ancestors while they propagate; each once. */
  readonly sinks: readonly Sink[];
  /** The record reaches root's handlers, which the given root logger replaces. */
  readonly toGiven: boolean;
}

/**
 * pino's destination for one route: one JSON line in, one line per handler
 * out. pino also hands over what it logged (needsMetadata), which lets an
 * access record skip the JSON.parse that other records need for text.
 */
class Router implements pino.DestinationStream {
  readonly [pino.symbols.needsMetadataGsym] = true;
  lastObj: object | undefined = undefined;
  lastTime = '';
  lastLevel = 0;

  constructor(private readonly sinks: readonly Sink[]) {}

  write(line: string): void {
    const obj = this.lastObj as Partial<AccessFields & { [ACCESS_RECORD]: true }> | undefined;
    const access = obj?.[ACCESS_RECORD] === true ? (obj as AccessFields) : undefined;
    let text: string | undefined;
    for (const sink of this.sinks) {
      if (sink.format === 'json') sink.destination.write(line);
      else if (access !== undefined) sink.destination.write(formatAccessRecord(sink.format, access, Number(this.lastTime), this.lastLevel));
      else sink.destination.write((text ??= formatRecord(JSON.parse(line) as LogRecord)));
    }
  }
}

const NOWHERE: pino.DestinationStream = { write: () => {} };

type Method = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** The given logger's method for a pino level; a minimal Logger has no trace or fatal. */
function methodOf(target: Logger, level: number): LogFn {
  const label = pino.levels.labels[level] as Method | undefined;
  const own = label === undefined ? undefined : (target as Partial<Record<Method, unknown>>)[label];
  if (typeof own === 'function') return own as LogFn;
  return level >= 50 ? target.error : level >= 40 ? target.warn : level >= 30 ? target.info : target.debug;
}

/**
 * The pino hook that hands a record to the given root logger, with the
 * caller's own arguments (an Error stays an Error for its serializers) and
 * bindings, at the record's level; the given logger's own level applies too.
 * Records reach it only after passing the configured level, since pino calls
 * hooks only for enabled levels.
 */
function forwardTo(given: Logger, local: boolean): NonNullable<pino.LoggerOptions['hooks']>['logMethod'] {
  // One child of the given logger per pino logger that logs, made on its first record.
  const targets = new WeakMap<object, Logger>();
  return function logMethod(this: pino.Logger, args, method, level) {
    let target = targets.get(this);
    if (target === undefined) {
      const bindings = this.bindings();
      // hostmux's own messages go to the given logger itself, unlabelled.
      if (bindings.logger === 'root') delete bindings.logger;
      target = Object.keys(bindings).length === 0 ? given : given.child(bindings);
      targets.set(this, target);
    }
    Reflect.apply(methodOf(target, level), target, args);
    if (local) method.apply(this, args);
  };
}

function makePino(route: Route, given: Logger | undefined): pino.Logger {
  const forward = route.toGiven && given !== undefined;
  const local = route.sinks.length > 0;
  const options: pino.LoggerOptions = {
    level: local || forward ? route.level : 'silent',
    serializers: { err: pino.stdSerializers.err },
  };
  if (forward) options.hooks = { logMethod: forwardTo(given, local) };
  return pino(options, local ? new Router(route.sinks) : NOWHERE);
}

/** The nearest configured ancestor of a logger name (`site.blog` → `site` → `root`). */
function configuredAncestor(name: string, configured: ReadonlyMap<string, unknown>): string {
  for (let n = name, dot = n.lastIndexOf('.'); dot !== -1; dot = n.lastIndexOf('.')) {
    n = n.slice(0, dot);
    if (configured.has(n)) return n;
  }
  return 'root';
}

const ROOT_DEFAULT: LoggerSpec = { name: 'root', level: undefined, handlers: undefined, propagate: true };

/**
 * The loggers of one configuration. Routes are worked out at load, one per
 * configured logger (no per-site work); a pino logger is made for a route
 * when the first logger that uses it is asked for, and a name's logger (a
 * pino child binding `logger: name`) is made on first request and cached.
 */
export class Loggers {
  readonly #routes = new Map<string, { readonly route: Route; base: pino.Logger | undefined }>();
  readonly #cache = new Map<string, Logger>();
  readonly #given: Logger | undefined;

  /**
   * @param sinkOf - the opened handler of that name, undefined when it is
   *   unknown or failed to open (already a problem)
   * @param defaultSink - root's handler when `[logger:root]` sets no `handlers`
   */
  constructor(config: LoggingConfig, sinkOf: (name: string) => Sink | undefined, defaultSink: Sink, given: Logger | undefined) {
    this.#given = given;
    const specs = new Map(config.loggers);
    if (!specs.has('root')) specs.set('root', ROOT_DEFAULT);
    const routes = new Map<string, Route>();
    const routeOf = (name: string): Route => {
      let route = routes.get(name);
      if (route !== undefined) return route;
      const spec = specs.get(name)!;
      const own = spec.handlers === undefined
        ? (name === 'root' ? [defaultSink] : [])
        : spec.handlers.map(sinkOf).filter((sink) => sink !== undefined);
      if (name === 'root') {
        // The given logger replaces root's handlers, and only them.
        route = given === undefined
          ? { level: spec.level ?? 'info', sinks: own, toGiven: false }
          : { level: spec.level ?? 'info', sinks: [], toGiven: true };
      } else {
        const parent = routeOf(configuredAncestor(name, specs));
        route = {
          level: spec.level ?? parent.level,
          sinks: spec.propagate ? [...new Set([...own, ...parent.sinks])] : own,
          toGiven: spec.propagate && parent.toGiven,
        };
      }
      routes.set(name, route);
      return route;
    };
    for (const name of specs.keys()) this.#routes.set(name, { route: routeOf(name), base: undefined });
  }

  #entry(name: string) {
    return this.#routes.get(name) ?? this.#routes.get(configuredAncestor(name, this.#routes))!;
  }

  /** The logger named `name`, made on first use and cached. */
  get(name: string): Logger {
    let logger = this.#cache.get(name);
    if (logger === undefined) {
      const entry = this.#entry(name);
      entry.base ??= makePino(entry.route, this.#given);
      this.#cache.set(name, (logger = entry.base.child({ logger: name })));
    }
    return logger;
  }

  /** Whether an `info` record of logger `name` reaches any handler (or the given root). */
  infoReachesAHandler(name: string): boolean {
    const { route } = this.#entry(name);
    return (pino.levels.values[route.level] ?? Infinity) <= 30 &&
      (route.sinks.length > 0 || route.toGiven);
  }
}
