import { domainToASCII } from 'node:url';

const MAX_LABEL = 63;
const MAX_NAME = 253;
/** A name made only of labels hostmux accepts: what the WHATWG slow path must give back. */
const PLAIN_NAME = /^[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*$/;

/**
 * True for a port part (after `:`) that is empty or a run of digits whose
 * value is at most 65535, as the WHATWG URL parser reads it (`:000080` is 80).
 */
function isValidPort(text: string, start: number): boolean {
  let port = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    port = port * 10 + (c - 48);
    if (port > 65535) return false;
  }
  return true;
}

/** Characters of an IPv6 literal: hex digits, `:` and the dots of an embedded IPv4 address. */
function isIpv6Char(c: number): boolean {
  return (c >= 48 && c <= 58) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 46;
}

/**
 * A bracketed IPv6 literal, in its WHATWG canonical form (`[0:0::1]` →
 * `[::1]`), or undefined for anything the WHATWG URL parser rejects (a zone
 * id `%eth0` among them).
 */
function normalizeIpv6(text: string): string | undefined {
  const close = text.indexOf(']');
  if (close === -1) return undefined;
  if (close + 1 < text.length) {
    if (text.charCodeAt(close + 1) !== 58 /* : */ || !isValidPort(text, close + 2)) return undefined;
  }
  // Only the characters an address can have reach the parser, so the
  // bracket is the whole host it sees.
  for (let i = 1; i < close; i++) if (!isIpv6Char(text.charCodeAt(i))) return undefined;
  const host = domainToASCII(close + 1 === text.length ? text : text.slice(0, close + 1));
  return host === '' ? undefined : host;
}

/**
 * True when WHATWG would read the name `text.slice(0, end)` other than as a
 * plain lowercase name: its last label (`start` to `end`) is a number in
 * decimal, octal or hex (`1`, `0x7f`, `0x`), so the name is an IPv4
 * address, however written (`127.1`, `2130706433`).
 */
function endsInNumber(text: string, start: number, end: number): boolean {
  let i = start;
  if (end - start >= 2 && text.charCodeAt(i) === 48 && (text.charCodeAt(i + 1) | 0x20) === 120 /* 0x */) {
    for (i += 2; i < end; i++) {
      const c = text.charCodeAt(i) | 0x20;
      if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
    }
    return true;
  }
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** True when the label from `start` to `end` begins with `xn--` (any case): punycode WHATWG decodes and checks. */
function isPunycode(text: string, start: number, end: number): boolean {
  return end - start >= 4 &&
    (text.charCodeAt(start) | 0x20) === 120 &&
    (text.charCodeAt(start + 1) | 0x20) === 110 &&
    text.charCodeAt(start + 2) === 45 &&
    text.charCodeAt(start + 3) === 45;
}

/**
 * The rare shapes — an IPv4 address however written, a punycode label — go
 * to Node's own WHATWG host parser: its answer, if it is a plain name
 * hostmux accepts, else undefined (WHATWG rejects it: `1.2.3.4.5`,
 * `256.1.1.1`, `xn--zz`). Allocates; an ordinary name never comes here.
 */
function whatwgHost(name: string): string | undefined {
  const host = domainToASCII(name);
  return host.length <= MAX_NAME && PLAIN_NAME.test(host) ? host : undefined;
}

/**
 * Normalises a Host value to the host a browser's URL parser (WHATWG URL)
 * gives for it: ASCII-lowercase, port dropped, one trailing dot dropped, an
 * IPv4 address in dotted decimal (`0x7f.1` → `127.0.0.1`), an IPv6 literal
 * compressed (`[0:0::1]` → `[::1]`). Returns `undefined` for anything
 * answered with 400: empty host or label, a character outside letters,
 * digits, `-`, `_` and `.`, a bad port, a label over 63 or a name over 253
 * characters, and any host the WHATWG parser rejects (`1.2.3.4.5`,
 * `xn--zz.test`, `[::1%eth0]`). One pass over the characters, and no
 * allocation when the value is already a normal name: this runs on every
 * request. Only a name whose last label is a number, a name with an `xn--`
 * label and an IPv6 literal take the slower WHATWG path.
 */
export function normalizeHost(text: string): string | undefined {
  const length = text.length;
  if (length === 0) return undefined;
  if (text.charCodeAt(0) === 91 /* [ */) return normalizeIpv6(text);
  let end = length;
  let labelStart = 0;
  let lastLabelStart = 0;
  let lowercase = true;
  let punycode = false;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95) continue;
    if (c === 46 /* . */) {
      if (i === labelStart || i - labelStart > MAX_LABEL) return undefined;
      if (!punycode && isPunycode(text, labelStart, i)) punycode = true;
      lastLabelStart = labelStart;
      labelStart = i + 1;
    } else if (c >= 65 && c <= 90) {
      lowercase = false;
    } else if (c === 58 /* : */) {
      if (!isValidPort(text, i + 1)) return undefined;
      end = i;
      break;
    } else {
      return undefined;
    }
  }
  let nameEnd = end;
  if (labelStart === end) {
    // Empty last label: the name is empty, or ends with the one dot we drop.
    if (end === 0) return undefined;
    nameEnd = end - 1;
  } else if (end - labelStart > MAX_LABEL) {
    return undefined;
  } else {
    if (!punycode && isPunycode(text, labelStart, end)) punycode = true;
    lastLabelStart = labelStart;
  }
  if (nameEnd > MAX_NAME) return undefined;
  const name = nameEnd === length ? text : text.slice(0, nameEnd);
  if (punycode || endsInNumber(text, lastLabelStart, nameEnd)) return whatwgHost(name);
  return lowercase ? name : name.toLowerCase();
}
