import ini from 'ini';
import type { ConfigProblem } from '../errors.js';
import { splitOutsideGroups } from '../routing/glob-syntax.js';
import { expandEnv } from './env.js';

/**
 * A setting's value: a string, or a list from `key[] = …` lines.
 * @public
 */
export type IniValue = string | string[];

export interface IniSection {
  readonly name: string;
  /** The line of the section's first header; undefined for the keys before any header. */
  readonly line?: number;
  readonly values: Record<string, IniValue>;
  /** The line each key was last set on, for messages. */
  readonly lines: Map<string, number>;
}

export interface IniFile {
  /** Keys before the first section header. */
  readonly top: IniSection;
  /** Sections by their whole name (`logger:site.blog` is not nested). */
  readonly sections: Map<string, IniSection>;
}

// The line grammar of the `ini` package, so that we see lines as it does,
// except that a header may end in a comment (`[database]  ; …`), as with
// Python's configparser: ini would read that line as a key set to true.
const HEADER = /^\[([^\]]*)\]\s*(?:[;#].*)?$/;
const COMMENT_OR_BLANK = /^\s*([;#]|$)/;

/** What a line without `=` probably meant: ini reads it as `key = true`. */
function noEqualsHint(line: string): string {
  if (/^\s+\[[^\]]*\]\s*$/.test(line)) return '(ini reads an indented section header as a key: start it at the beginning of the line)';
  return '(write key = value)';
}

function toStringValue(value: unknown): IniValue {
  if (Array.isArray(value)) return value.map((item) => String(item));
  return String(value);
}

/**
 * Reads INI text with the `ini` package, one section at a time so that a
 * dotted section name stays whole, and adds what `ini` leaves out: a line
 * with no `=` (which it decodes as `true`) is a problem, and `${VAR}`
 * references are expanded, each unset one a problem.
 */
export function parseIni(
  text: string,
  file: string,
  problems: ConfigProblem[],
  env: NodeJS.ProcessEnv = process.env,
): IniFile {
  const top: IniSection = { name: '', values: {}, lines: new Map() };
  const sections = new Map<string, IniSection>();
  const chunks: { section: IniSection; lines: string[] }[] = [{ section: top, lines: [] }];
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (COMMENT_OR_BLANK.test(line)) continue;
    const header = HEADER.exec(line);
    if (header !== null) {
      const name = ini.unsafe(header[1]!);
      if (name === '__proto__') {
        problems.push({ file, line: i + 1, section: name, message: 'a section cannot be named __proto__' });
      }
      let section = sections.get(name);
      if (section === undefined) sections.set(name, (section = { name, line: i + 1, values: {}, lines: new Map() }));
      chunks.push({ section, lines: [] });
      continue;
    }
    const chunk = chunks[chunks.length - 1]!;
    const eq = line.indexOf('=');
    const where = { file, line: i + 1, ...(chunk.section.name ? { section: chunk.section.name } : {}) };
    if (eq === -1) {
      problems.push({ ...where, message: `line "${line.trim()}" has no "=" ${noEqualsHint(line)}` });
      continue;
    }
    const key = ini.unsafe(line.slice(0, eq)).replace(/\[\]$/, '');
    if (key === '') {
      problems.push({ ...where, message: 'line has no key before "="' });
      continue;
    }
    chunk.section.lines.set(key, i + 1);
    chunk.lines.push(line);
  }
  for (const { section, lines: body } of chunks) {
    if (body.length === 0) continue;
    const decoded = ini.decode(body.join('\n')) as Record<string, unknown>;
    for (const [key, raw] of Object.entries(decoded)) {
      const value = expandValue(toStringValue(raw), env, (name) =>
        problems.push({
          file,
          ...(section.name ? { section: section.name } : {}),
          key,
          line: section.lines.get(key)!,
          message: `environment variable ${name} is not set (use \${${name}:-default} for a default)`,
        }),
      );
      // A section written twice: a list grows (whichever block started it), a single value is replaced.
      const previous = section.values[key];
      section.values[key] = previous !== undefined && (Array.isArray(previous) || Array.isArray(value))
        ? [previous, value].flat()
        : value;
    }
  }
  return { top, sections };
}

function expandValue(value: IniValue, env: NodeJS.ProcessEnv, onUnset: (name: string) => void): IniValue {
  if (Array.isArray(value)) return value.map((item) => expandValue(item, env, onUnset) as string);
  const result = expandEnv(value, env);
  result.unset.forEach(onUnset);
  return result.value;
}

/** A key's one value, trimmed; a list (`key[] =`) is a problem. */
export function scalarValue(section: IniSection, key: string, file: string, problems: ConfigProblem[]): string | undefined {
  const value = section.values[key];
  if (value === undefined || typeof value === 'string') return value?.trim();
  problems.push({ file, section: section.name, key, line: section.lines.get(key)!, message: 'takes one value, not a list' });
  return undefined;
}

/** A problem for every key outside a section: hostmux files keep all keys in sections. */
export function reportTopLevelKeys(parsed: IniFile, file: string, problems: ConfigProblem[]): void {
  for (const key of Object.keys(parsed.top.values)) {
    problems.push({ file, key, line: parsed.top.lines.get(key)!, message: 'key is outside any section' });
  }
}

/** A problem for every key of `section` that is not in `known`. */
export function reportUnknownKeys(
  section: IniSection,
  known: ReadonlySet<string>,
  file: string,
  problems: ConfigProblem[],
): void {
  for (const key of Object.keys(section.values)) {
    if (!known.has(key)) {
      problems.push({
        file,
        section: section.name,
        key,
        line: section.lines.get(key)!,
        message: `unknown key (known keys: ${[...known].join(', ')})`,
      });
    }
  }
}

/**
 * Splits a comma-separated value (or list of them) into trimmed entries. A
 * comma inside a glob's braces belongs to it (`{www,cdn}.example.com`).
 */
export function splitList(value: IniValue): string[] {
  const items = Array.isArray(value) ? value : [value];
  return items.flatMap((item) => splitOutsideGroups(item, ',')).map((entry) => entry.trim());
}
