// One escaping for every log line hostmux formats as text (and the command prints), so that nothing a
// client sends or a site logs can start a line of its own, forge a record,
// or reach a terminal as an escape sequence.

/**
 * What breaks a line or drives a terminal: C0 controls (newline, carriage
 * return, tab, ESC…), DEL, C1 controls (NEL among them), the Unicode line and
 * paragraph separators, and the bidi embeddings, overrides and isolates that
 * make a line display in another order than it reads.
 */
export const CONTROLS = '\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';

const hex = (byte: number) => `\\x${byte.toString(16).padStart(2, '0')}`;

function escapeChar(ch: string): string {
  if (ch === '"' || ch === '\\') return `\\${ch}`;
  const code = ch.charCodeAt(0);
  // Node hands request lines and headers over as latin1, one char per byte; anything wider is written as its UTF-8 bytes.
  return code <= 0xff ? hex(code) : [...Buffer.from(ch, 'utf8')].map(hex).join('');
}

/** The characters to escape (a character class's inside, as a string), as a test (no `g`: no lastIndex state) and as the global pattern replace() needs. */
export interface Escapes {
  readonly test: RegExp;
  readonly all: RegExp;
}

export function escapes(characterClass: string): Escapes {
  // `u`: a character beyond U+FFFF is one match, written as its four UTF-8 bytes rather than two halves.
  return { test: new RegExp(`[${characterClass}]`, 'u'), all: new RegExp(`[${characterClass}]`, 'gu') };
}

/**
 * `value` with each character of `which` written as `\xHH` (its UTF-8 bytes
 * beyond latin1), and `"` and `\` as `\"` and `\\` when `which` includes
 * them. Returns `value` itself, with nothing allocated, when none occurs.
 */
export function escapeWith(value: string, which: Escapes): string {
  return which.test.test(value) ? value.replace(which.all, escapeChar) : value;
}

const CONTROL_ESCAPES = escapes(CONTROLS);

/** `value` with its control characters escaped (see CONTROLS): one line, safe on a terminal. */
export function escapeControls(value: string): string {
  return escapeWith(value, CONTROL_ESCAPES);
}
