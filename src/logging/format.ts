import pino from 'pino';
import type { Format } from './config.js';
import { escapeControls, escapes, escapeWith } from '../escape-controls.js';

/** A pino JSON line, parsed. */
export type LogRecord = Record<string, unknown>;

/** The fields of an access record (see access.ts). */
export interface AccessFields {
  remoteAddress?: string;
  method?: string;
  url?: string;
  httpVersion?: string;
  statusCode: number;
  bytes?: number;
  referer?: string;
  userAgent?: string;
  site?: string;
  responseTime?: number;
}

/** The name hostmux's access logger writes under. */
export const ACCESS_LOGGER = 'access';

/**
 * Marks the object access.ts logs, so that a handler formats it as it is
 * rather than parsing pino's line back. A symbol key stays out of the JSON.
 */
export const ACCESS_RECORD = Symbol('hostmux.accessRecord');

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

let clfSecond = NaN;
let clfText = '';

/** `[26/Nov/2026:17:05:57 +0000]`'s inside, in local time with its offset, as Apache and nginx write it. */
function clfTime(time: number): string {
  // Made once a second, as nginx does: an access log writes many lines per second.
  const second = Math.floor(time / 1000);
  if (second === clfSecond) return clfText;
  const d = new Date(time);
  const offset = -d.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  clfSecond = second;
  clfText = `${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
  return clfText;
}

// What Apache escapes in a logged request line or header: quotes, backslashes and unprintable bytes.
const COMBINED_ESCAPES = escapes(`\\x00-\\x1f\\x7f-\\u{10ffff}"\\\\`);

function escapeField(value: string | undefined): string {
  if (value === undefined || value === '') return '-';
  return escapeWith(value, COMBINED_ESCAPES);
}

/**
 * Apache's combined format plus the site and the duration in seconds:
 * `127.0.0.1 - - [26/Nov/2026:17:05:57 +0000] "GET /x HTTP/1.1" 200 12 "-" "curl/8.5" blog 0.003`.
 */
function combinedLine(record: AccessFields, time: number): string {
  const request = `${record.method ?? '-'} ${record.url ?? '-'} HTTP/${record.httpVersion ?? '1.1'}`;
  const seconds = ((record.responseTime ?? 0) / 1000).toFixed(3);
  return `${record.remoteAddress ?? '-'} - - [${clfTime(time)}] "${escapeField(request)}" ${record.statusCode} ${record.bytes ? record.bytes : '-'} "${escapeField(record.referer)}" "${escapeField(record.userAgent)}" ${escapeField(record.site)} ${seconds}`;
}

// pino's own fields, which the text line shows in its prefix or not at all.
const PREFIX_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'logger', 'msg', 'err']);

// Every text field has its control characters escaped (escape.ts), so that
// a record is one line, plus an error's stack on lines of its own.
function describeValue(value: unknown): string {
  if (typeof value === 'string') return escapeControls(value === '' || /[\s"=]/.test(value) ? JSON.stringify(value) : value);
  if (value !== null && typeof value === 'object') return escapeControls(JSON.stringify(value));
  return escapeControls(String(value));
}

function textPrefix(time: number, level: unknown, logger: unknown): string {
  const label = (pino.levels.labels[level as number] ?? String(level)).toUpperCase();
  return `${new Date(time).toISOString()} ${escapeControls(label)} ${typeof logger === 'string' ? escapeControls(logger) : 'root'}:`;
}

/**
 * An error's stack, one line of it per line (at each \n), each with its control
 * characters escaped and indented: frames as V8 writes them (`    at …`),
 * any other line (the `Error: message` header, a message's own line breaks)
 * by four spaces. A record always starts in the first column, so no line of
 * a stack can pass for one.
 */
function formatStack(stack: string): string {
  let text = '';
  // Split at \n only: any other line break (\r, U+2028) is escaped like every control character.
  for (const line of stack.split('\n')) {
    const escaped = escapeControls(line);
    text += escaped.startsWith(' ') ? `${escaped}\n` : `    ${escaped}\n`;
  }
  return text;
}

/**
 * The text line of a parsed record other than an access record:
 * `2026-11-26T17:05:57.123Z INFO site.blog: message (key=value …)`, then an
 * error's stack on the lines after. `combined` handlers write it too, so
 * that nothing sent there is lost.
 */
export function formatRecord(record: LogRecord): string {
  const time = typeof record.time === 'number' ? record.time : Date.now();
  const prefix = textPrefix(time, record.level, record.logger);
  let line = `${prefix} ${typeof record.msg === 'string' ? escapeControls(record.msg) : ''}`;
  const extra: string[] = [];
  for (const key in record) {
    if (!PREFIX_KEYS.has(key)) extra.push(`${escapeControls(key)}=${describeValue(record[key])}`);
  }
  const err = record.err as { stack?: unknown } | undefined;
  const stack = err !== null && typeof err === 'object' && typeof err.stack === 'string' ? err.stack : undefined;
  if (err !== undefined && stack === undefined) extra.push(`err=${describeValue(err)}`);
  if (extra.length > 0) line += ` (${extra.join(' ')})`;
  return stack === undefined ? `${line}\n` : `${line}\n${formatStack(stack)}`;
}

/** Formats an access record from the object access.ts logged, without parsing pino's line back. */
export function formatAccessRecord(format: Exclude<Format, 'json'>, fields: AccessFields, time: number, level: number): string {
  const line = `${combinedLine(fields, time)}\n`;
  return format === 'combined' ? line : `${textPrefix(time, level, ACCESS_LOGGER)} ${line}`;
}
