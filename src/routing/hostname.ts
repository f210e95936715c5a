import { isIPv6 } from 'node:net';

const MAX_LABEL = 63;
const MAX_NAME = 253;

/** True for a port part (after `:`) that is empty or a number 0–65535. */
function isValidPort(text: string, start: number): boolean {
  const length = text.length - start;
  if (length === 0) return true;
  if (length > 5) return false;
  let port = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    port = port * 10 + (c - 48);
  }
  return port <= 65535;
}

function normalizeIpv6(text: string): string | undefined {
  const close = text.indexOf(']');
  if (close === -1) return undefined;
  if (close + 1 < text.length) {
    if (text.charCodeAt(close + 1) !== 58 /* : */ || !isValidPort(text, close + 2)) return undefined;
  }
  const address = text.slice(1, close);
  if (!isIPv6(address)) return undefined;
  return `[${address.toLowerCase()}]`;
}

/**
 * Normalises a Host value as SPEC 2 says: ASCII-lowercase, port dropped,
 * one trailing dot dropped. Returns `undefined` for anything the SPEC answers
 * with 400: empty host or label, a character outside letters, digits, `-`,
 * `_` and `.`, a bad port, a label over 63 or a name over 253 characters, a
 * bad IPv6 literal. One pass over the characters, and no allocation when the
 * value is already normal: this runs on every request.
 */
export function normalizeHost(text: string): string | undefined {
  const length = text.length;
  if (length === 0) return undefined;
  if (text.charCodeAt(0) === 91 /* [ */) return normalizeIpv6(text);
  let end = length;
  let labelStart = 0;
  let lowercase = true;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95) continue;
    if (c === 46 /* . */) {
      if (i === labelStart || i - labelStart > MAX_LABEL) return undefined;
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
  }
  if (nameEnd > MAX_NAME) return undefined;
  const name = nameEnd === length ? text : text.slice(0, nameEnd);
  return lowercase ? name : name.toLowerCase();
}
