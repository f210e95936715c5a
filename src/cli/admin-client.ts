import http from 'node:http';
import { parseAdminAddress, type AdminAddress } from '../config/admin-conf.js';
import { readServerSettings } from '../config/server-conf.js';
import type { ConfigProblem } from '../errors.js';
import { UsageError, type Values } from './command.js';
import { urlOf } from './serve/options.js';

// How `reload`, `status`, `stop` and `enable/disable --reload` reach a
// running `serve`: its admin listener, found in the tree's hostmux.conf
// ([admin] listen, token) or given with --admin.

/** A reload may roll a new generation of workers: `serve` bounds that at 120 s. */
export const RELOAD_ANSWER_MS = 130_000;
export const ANSWER_MS = 10_000;

export interface AdminTarget {
  readonly address: AdminAddress;
  readonly token: string | undefined;
  /** `http://127.0.0.1:2019` or `unix:/run/hostmux/admin.sock`, for messages. */
  readonly shown: string;
}

/** The admin listener of the tree at `configDir`, or --admin; a string saying why there is none. */
export function adminTarget(configDir: string, values: Values): AdminTarget | string {
  const problems: ConfigProblem[] = [];
  const admin = readServerSettings(configDir, problems).admin;
  let address = admin.listen;
  if (typeof values.admin === 'string') {
    const given = parseAdminAddress(values.admin);
    if (typeof given === 'string') throw new UsageError(`--admin: ${given}`);
    address = given;
  }
  if (address === undefined) {
    return `no admin listener: ${configDir}/hostmux.conf has no [admin] listen (or give --admin ADDRESS)`;
  }
  if (address.kind === 'tcp' && address.port === 0) return `[admin] listen has port 0: give the port it took with --admin ADDRESS`;
  return { address, token: admin.token, shown: address.kind === 'unix' ? `unix:${address.path}` : urlOf({ address: address.host, port: address.port }) };
}

/** What the admin listener answered; `unreachable` when nothing did. */
export type AdminReply = { readonly status: number; readonly body: string } | { readonly unreachable: string };

/** One request to the admin listener, bounded by `ms`. */
export function adminRequest(target: AdminTarget, method: 'GET' | 'POST', path: string, ms = ANSWER_MS): Promise<AdminReply> {
  return new Promise((resolve) => {
    const where = target.address.kind === 'unix' ? { socketPath: target.address.path } : { host: target.address.host, port: target.address.port };
    const headers: http.OutgoingHttpHeaders = target.token === undefined ? {} : { authorization: `Bearer ${target.token}` };
    const req = http.request({ ...where, method, path, headers, agent: false, timeout: ms }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (error) => resolve({ unreachable: error.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ms / 1000} s`)));
    req.on('error', (error) => resolve({ unreachable: error.message }));
    req.end();
  });
}
