import { FRAMEWORK_TRUSTED } from '../symbols.js';
import { requestHost, type AnyRequest } from './request-host.js';

/**
 * The one place that decides which host a request is routed by, and
 * whether its sender's forwarding headers are trusted.
 *
 * - `trust_proxy` set (hostmux.conf or `options.trustProxy`): it decides,
 *   whatever the host framework says.
 * - `trust_proxy` unset: the host framework decides. An adapter tells it
 *   either a host the framework already took from trusted forwarding headers
 *   (`forwarded`, Fastify's `request.host`), or, through `frameworkTrusts`,
 *   that the framework trusts the sender (Express's `trust proxy`), so that
 *   the forwarding headers are read here. A request routed so is marked, and
 *   a proxy site then keeps what it received (`senderTrusted`).
 */
export function routedHost(
  req: AnyRequest,
  trustProxy: boolean | undefined,
  forwarded: string | undefined,
  frameworkTrusts: (req: AnyRequest) => boolean,
): string | undefined {
  if (trustProxy !== undefined) return requestHost(req, trustProxy);
  const trust = forwarded !== undefined || frameworkTrusts(req);
  if (trust) markFrameworkTrusted(req);
  return requestHost(req, trust, forwarded);
}

/**
 * Marks a request whose sender the host framework trusts, with `trust_proxy`
 * unset: a proxy site keeps the forwarding headers it received. An adapter
 * calls it where the framework shows trust without choosing the host
 * (Fastify's `ips`, `protocol`).
 */
export function markFrameworkTrusted(req: AnyRequest): void {
  (req as { [FRAMEWORK_TRUSTED]?: boolean })[FRAMEWORK_TRUSTED] = true;
}

/** Whether the request's forwarding headers come from a trusted sender: `trust_proxy`, else the host framework's verdict. */
export function senderTrusted(req: AnyRequest, trustProxy: boolean): boolean {
  return trustProxy || (req as { [FRAMEWORK_TRUSTED]?: boolean })[FRAMEWORK_TRUSTED] === true;
}
