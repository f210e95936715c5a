import type { SiteKindDescriptor } from '../kind.js';
import { ProxySite } from './proxy-site.js';
import { readProxySite, type ProxySiteFile } from './settings.js';

const NOTHING: readonly string[] = Object.freeze([]);

/** `proxy = http://127.0.0.1:9001`: requests forwarded to an upstream. */
export const proxyKind: SiteKindDescriptor<ProxySiteFile> = {
  kind: 'proxy',
  key: 'proxy',
  keys: ['proxy_timeout', 'proxy_host'],
  read: readProxySite,
  create: (file, domains, env) => new ProxySite(file, domains, env.loggers, env.trustProxy),
  // A proxy site holds trust_proxy (which forwarding headers it keeps).
  keeps: (_site, _file, change) => !change.trustProxyChanged,
  watched: () => NOTHING,
};
