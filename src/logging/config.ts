import { resolve } from 'node:path';
import type { ConfigProblem } from '../errors.js';
import { parseIni, reportTopLevelKeys, reportUnknownKeys, scalarValue, splitList, type IniSection } from '../config/ini-file.js';
import { readConfigFileSteps } from '../config/read-file.js';
import { parseBoolean } from '../config/server-conf.js';
import { runSync, type Steps } from '../config/steps.js';

/** pino's level names; `silent` turns a logger off. */
export type LevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export type Format = 'text' | 'json' | 'combined';

/** `[handler:NAME]`: where records go and how they look. */
export interface HandlerSpec {
  readonly name: string;
  /** `stderr`, `stdout`, or an absolute file path. */
  readonly destination: string;
  readonly format: Format;
  /** The line of `destination`, for problems found when opening it. */
  readonly line: number | undefined;
}

/** `[logger:NAME]`; an unset level or handler list is inherited or defaulted by the caller. */
export interface LoggerSpec {
  readonly name: string;
  readonly level: LevelName | undefined;
  /** `undefined` when the key is absent (root then keeps the default console). */
  readonly handlers: readonly string[] | undefined;
  readonly propagate: boolean;
}

export interface LoggingConfig {
  readonly loggers: ReadonlyMap<string, LoggerSpec>;
  readonly handlers: ReadonlyMap<string, HandlerSpec>;
}

// Python's names too, so that a logging.ini written for Python reads the same.
const LEVELS: Readonly<Record<string, LevelName>> = {
  trace: 'trace', debug: 'debug', info: 'info', warn: 'warn', warning: 'warn',
  error: 'error', fatal: 'fatal', critical: 'fatal', silent: 'silent',
};
const FORMATS: ReadonlySet<string> = new Set<Format>(['text', 'json', 'combined']);
const LOGGER_KEYS: ReadonlySet<string> = new Set(['level', 'handlers', 'propagate']);
const HANDLER_KEYS: ReadonlySet<string> = new Set(['destination', 'format']);

/**
 * Reads logging.ini (`file`, relative to `configDir`) into specs, pushing a
 * problem for everything wrong with it. Returns `undefined` when the file
 * cannot be read. Destinations are checked later, when they are opened.
 */
export function* readLoggingConfigSteps(configDir: string, file: string, problems: ConfigProblem[]): Steps<LoggingConfig | undefined> {
  const text = yield* readConfigFileSteps(resolve(configDir, file), file, problems, 'logging.ini is');
  return text === undefined ? undefined : parseLoggingConfig(text, configDir, file, problems);
}

/** readLoggingConfigSteps, synchronously. */
export function readLoggingConfig(configDir: string, file: string, problems: ConfigProblem[]): LoggingConfig | undefined {
  return runSync(readLoggingConfigSteps(configDir, file, problems));
}

/** logging.ini's text into specs. */
function parseLoggingConfig(text: string, configDir: string, file: string, problems: ConfigProblem[]): LoggingConfig {
  const parsed = parseIni(text, file, problems);
  reportTopLevelKeys(parsed, file, problems);
  const loggers = new Map<string, LoggerSpec>();
  const handlers = new Map<string, HandlerSpec>();
  const handlerRefs: { section: IniSection; names: string[] }[] = [];

  for (const section of parsed.sections.values()) {
    const where = { file, section: section.name, line: section.line };
    const colon = section.name.indexOf(':');
    const kind = colon === -1 ? section.name : section.name.slice(0, colon);
    const name = section.name.slice(colon + 1);
    if (colon === -1 || (kind !== 'logger' && kind !== 'handler')) {
      problems.push({ ...where, message: 'unknown section (logging.ini has [logger:NAME] and [handler:NAME] sections)' });
      continue;
    }
    if (name === '' || (kind === 'logger' && name.split('.').includes(''))) {
      problems.push({ ...where, message: `a ${kind} needs a name${kind === 'logger' ? ' without empty dotted parts' : ''} ([${kind}:NAME])` });
      continue;
    }
    const scalar = (key: string) => scalarValue(section, key, file, problems);
    const problem = (key: string, message: string) =>
      problems.push({ file, section: section.name, key, line: section.lines.get(key), message });

    if (kind === 'logger') {
      reportUnknownKeys(section, LOGGER_KEYS, file, problems);
      const levelText = scalar('level');
      let level: LevelName | undefined;
      if (levelText !== undefined) {
        level = LEVELS[levelText.toLowerCase()];
        if (level === undefined) problem('level', `"${levelText}" is not a level (trace, debug, info, warn, error, fatal, silent)`);
      }
      const propagateText = scalar('propagate');
      let propagate = true;
      if (propagateText !== undefined) {
        const value = parseBoolean(propagateText);
        if (value === undefined) problem('propagate', `"${propagateText}" is not yes or no`);
        else propagate = value;
      }
      const list = section.values.handlers;
      const names = list === undefined ? undefined : splitList(list).filter((entry) => entry !== '');
      if (names !== undefined) handlerRefs.push({ section, names });
      loggers.set(name, { name, level, handlers: names, propagate });
    } else {
      reportUnknownKeys(section, HANDLER_KEYS, file, problems);
      const formatText = scalar('format') ?? 'text';
      const format = formatText.toLowerCase();
      if (!FORMATS.has(format)) problem('format', `"${formatText}" is not a format (text, json, combined)`);
      const destinationText = scalar('destination');
      if (destinationText === undefined) {
        if (section.values.destination === undefined) {
          problems.push({ ...where, message: 'a handler needs a destination (stderr, stdout or a file path)' });
        }
      } else if (destinationText === '') {
        problem('destination', 'is empty (stderr, stdout or a file path)');
      } else {
        const keyword = destinationText.toLowerCase();
        const destination = keyword === 'stderr' || keyword === 'stdout' ? keyword : resolve(configDir, destinationText);
        handlers.set(name, {
          name,
          destination,
          format: FORMATS.has(format) ? (format as Format) : 'text',
          line: section.lines.get('destination'),
        });
      }
    }
  }

  // After every section is read, so that a handler may be defined below the logger that names it.
  const defined = new Set([...parsed.sections.keys()].filter((s) => s.startsWith('handler:')).map((s) => s.slice(8)));
  for (const { section, names } of handlerRefs) {
    for (const handler of names) {
      if (!defined.has(handler)) {
        problems.push({
          file,
          section: section.name,
          key: 'handlers',
          line: section.lines.get('handlers'),
          message: `unknown handler "${handler}" (no [handler:${handler}] section)`,
        });
      }
    }
  }
  return { loggers, handlers };
}
