/**
 * The symbols hostmux keeps on requests, responses and the application.
 * This file imports nothing, so that any layer may use them without a cycle.
 */

/**
 * The key hostmux keeps a request's `SiteInfo` under. A registered symbol,
 * so that a site importing its own copy of hostmux still finds it.
 */
export const SITE_INFO = Symbol.for('hostmux.site');

/**
 * Set on a request when `trust_proxy` is unset and the host framework
 * (Express `trust proxy`, Fastify `trustProxy`) trusts its sender, so that a
 * proxy site keeps the forwarding headers it received.
 */
export const FRAMEWORK_TRUSTED = Symbol('hostmux.frameworkTrusted');

/**
 * Where an `Application` keeps what hostmux's own adapters need and users
 * do not: a symbol, so that nothing string-named sits on the function
 * (Express and Connect read `.handle`, `.set`, `.route`).
 */
export const INTERNAL = Symbol('hostmux.internal');

/** On a response handed to a site: the site's entry, whose in-flight count it holds. */
export const TRACKED = Symbol('hostmux.entry');
/** On a response whose request was counted out already. */
export const RELEASED = Symbol('hostmux.released');
/** On a pipelined request: its response, queued behind another with no socket yet. */
export const QUEUED = Symbol('hostmux.queuedResponse');
/** On a routed response: performance.now() when it was routed, for its latency. */
export const STARTED = Symbol('hostmux.started');
