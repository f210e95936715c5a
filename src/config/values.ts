/** Value parsers that more than one kind of site uses for its keys. */

/** Parses an http(s) URL: its origin with an optional path, without a trailing slash, query, fragment or credentials as parsed. */
export function parseHttpTarget(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.username !== '') {
    return undefined;
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** setTimeout's limit (2^31 - 1 ms), in whole seconds. */
export const MAX_TIMEOUT_SECONDS = 2_147_483;

/** Parses `proxy_timeout` and `load_timeout`: positive decimal seconds, to milliseconds (at least 1). */
export function parseSeconds(text: string): number | undefined {
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text)) return undefined;
  const seconds = Number(text);
  if (!(seconds > 0) || seconds > MAX_TIMEOUT_SECONDS) return undefined;
  return Math.max(1, Math.round(seconds * 1000));
}
