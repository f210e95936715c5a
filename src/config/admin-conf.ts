import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import type { ConfigProblem } from '../errors.js';
import { reportUnknownKeys, type IniSection } from './ini-file.js';

/** Where `serve`'s admin listener listens: a TCP address, or a unix socket (mode 0600). */
export type AdminAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/** The `[admin]` section of hostmux.conf. */
export interface AdminSettings {
  /** undefined: no admin listener (unless `--admin`). */
  readonly listen: AdminAddress | undefined;
  /** undefined or '': no token (then only loopback or a unix socket). */
  readonly token: string | undefined;
}

export const NO_ADMIN: AdminSettings = { listen: undefined, token: undefined };
const ADMIN_KEYS = new Set(['listen', 'token']);

/** Whether a host is loopback: 127.0.0.0/8, ::1 or `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * `127.0.0.1:2019`, `[::1]:2019`, `localhost:2019`, `unix:/run/hostmux/admin.sock`;
 * a string saying what is wrong otherwise.
 */
export function parseAdminAddress(text: string): AdminAddress | string {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    return isAbsolute(path) ? { kind: 'unix', path } : `"${text}": a unix socket needs an absolute path (unix:/run/hostmux/admin.sock)`;
  }
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || !(port >= 0 && port <= 65535)) return `"${text}" is not HOST:PORT, [IPv6]:PORT or unix:/absolute/path`;
  const host = match[1] ?? match[2]!;
  if (match[1] !== undefined && isIP(host) !== 6) return `"${text}": ${host} is not an IPv6 address`;
  return { kind: 'tcp', host, port };
}

/** A problem with the address and token together: a non-loopback address needs a token. */
export function adminAddressProblem(listen: AdminAddress, token: string | undefined): string | undefined {
  if (listen.kind === 'tcp' && !isLoopback(listen.host) && (token === undefined || token === '')) {
    return `${listen.host} is not a loopback address: set [admin] token, or listen on 127.0.0.1 or a unix socket`;
  }
  return undefined;
}

/** Reads `[admin]`; problems go onto `problems`. */
export function readAdminSection(section: IniSection | undefined, file: string, problems: ConfigProblem[]): AdminSettings {
  if (section === undefined) return NO_ADMIN;
  reportUnknownKeys(section, ADMIN_KEYS, file, problems);
  const problem = (key: string, message: string) => problems.push({ file, section: 'admin', key, line: section.lines.get(key), message });
  const scalar = (key: string): string | undefined => {
    const value = section.values[key];
    if (value === undefined || typeof value === 'string') return value?.trim();
    problem(key, 'takes one value, not a list');
    return undefined;
  };
  const token = scalar('token');
  const listenText = scalar('listen');
  if (listenText === undefined || listenText === '') return { listen: undefined, token: token === '' ? undefined : token };
  const listen = parseAdminAddress(listenText);
  if (typeof listen === 'string') {
    problem('listen', listen);
    return NO_ADMIN;
  }
  const unsafe = adminAddressProblem(listen, token);
  if (unsafe !== undefined) {
    problem('listen', unsafe);
    return NO_ADMIN;
  }
  return { listen, token: token === '' ? undefined : token };
}
