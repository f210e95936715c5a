// serve's server timeouts, so that a slow or idle client cannot hold a
// connection forever:
// - headers: 20 s to send the request head (slowloris); nginx allows 60, but
//   a real client sends its head at once;
// - request: 120 s to send the whole request, body included: a slower upload
//   is cut (408), so big uploads belong behind a proxy that buffers them;
// - keep-alive: an idle connection is closed after 5 s (Node's default,
//   stated so that it is a decision): keep a reverse proxy's upstream
//   keepalive_timeout below it, or it may reuse a connection just closed.
// Responses are not bounded: a site may stream for as long as it needs.
export const HEADERS_TIMEOUT_MS = 20_000;
export const REQUEST_TIMEOUT_MS = 120_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/**
 * How long hostmux waits for the sites' close() when it exits (serve, past
 * its drain) or finishes (check): a site whose close() hangs does not hold
 * the process beyond it.
 */
export const CLOSE_BOUND_MS = 10_000;
