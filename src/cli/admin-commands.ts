import type { ReloadResult } from '../application.js';
import { formatProblem, type ConfigProblem } from '../errors.js';
import { escapeControls } from '../escape-controls.js';
import type { SiteStats } from '../metrics/stats.js';
import { OK, PROBLEMS, type Values } from './command.js';
import { err, json, out, plural, table } from './output.js';
import { adminRequest, adminTarget, RELOAD_ANSWER_MS, type AdminReply, type AdminTarget } from './admin-client.js';
import { describeReload } from './serve/lifecycle.js';

// The code of `reload`, `status` and `stop`, and of `enable`/`disable --reload`.
// What the server says is printed with control characters escaped: a site
// name or an error message must not act on the terminal.

const UNREACHABLE = 2;

function target(configDir: string, values: Values): AdminTarget | undefined {
  const found = adminTarget(configDir, values);
  if (typeof found !== 'string') return found;
  err(`hostmux: ${found}`);
  return undefined;
}

/** The answer, or undefined (said) when nothing answered. */
function answered(at: AdminTarget, reply: AdminReply): { status: number; body: string } | undefined {
  if (!('unreachable' in reply)) return reply;
  err(`hostmux: no hostmux serve answered at ${at.shown}: ${reply.unreachable}`);
  return undefined;
}

/** A reply the server gave but the command cannot use (401, 500, …): said, exit 1. */
function refusedBy(at: AdminTarget, { status, body }: { status: number; body: string }): number {
  err(`hostmux: the admin listener at ${at.shown} answered ${status}: ${escapeControls(body.trim().slice(0, 500))}`);
  return PROBLEMS;
}

/** POST /reload: 0 taken, 1 refused, 'unreachable'. */
export async function reloadThroughAdmin(configDir: string, values: Values): Promise<number | 'unreachable'> {
  const at = target(configDir, values);
  if (at === undefined) return 'unreachable';
  const reply = answered(at, await adminRequest(at, 'POST', '/reload', RELOAD_ANSWER_MS));
  if (reply === undefined) return 'unreachable';
  if (reply.status === 200) {
    out(`Reloaded: ${escapeControls(describeReload(JSON.parse(reply.body) as ReloadResult))}.`);
    return OK;
  }
  if (reply.status !== 422) return refusedBy(at, reply);
  const { error, problems } = JSON.parse(reply.body) as { error: string; problems: ConfigProblem[] };
  if (problems.length === 0) {
    err(`hostmux: reload refused, the previous configuration keeps serving: ${escapeControls(error)}`);
  } else {
    err(`hostmux: reload refused, the previous configuration keeps serving; ${plural(problems.length, 'configuration problem')}:`);
    for (const problem of problems) err(`  ${escapeControls(formatProblem(problem))}`);
  }
  return PROBLEMS;
}

export async function stopThroughAdmin(configDir: string, values: Values): Promise<number> {
  const at = target(configDir, values);
  if (at === undefined) return UNREACHABLE;
  const reply = answered(at, await adminRequest(at, 'POST', '/stop'));
  if (reply === undefined) return UNREACHABLE;
  if (reply.status !== 202) return refusedBy(at, reply);
  out(`Stopping hostmux serve at ${at.shown}: it drains, then exits.`);
  return OK;
}

function milliseconds(value: number | null): string {
  return value === null ? '-' : String(value);
}

export async function statusThroughAdmin(configDir: string, values: Values): Promise<number> {
  const at = target(configDir, values);
  if (at === undefined) return UNREACHABLE;
  const site = typeof values.site === 'string' ? values.site : undefined;
  const reply = answered(at, await adminRequest(at, 'GET', site === undefined ? '/status' : `/status?site=${encodeURIComponent(site)}`));
  if (reply === undefined) return UNREACHABLE;
  if (reply.status === 404 && site !== undefined) {
    err(`hostmux: no site ${escapeControls(site)} in the running configuration`);
    return PROBLEMS;
  }
  if (reply.status !== 200) return refusedBy(at, reply);
  const status = JSON.parse(reply.body) as { uptime: number; generation: number; workers: number; reload: { ok: boolean; at: string; error?: string } | null; sites: SiteStats[] };
  if (values.json === true) {
    json(status);
    return OK;
  }
  const reload = status.reload === null ? 'none' : `${status.reload.ok ? 'taken' : 'refused'} at ${status.reload.at}`;
  out(`hostmux at ${at.shown}: up ${Math.round(status.uptime)} s, ${plural(status.workers, 'worker')}, generation ${status.generation}, last reload ${reload}`);
  const rows = status.sites.map((s) => [
    s.name, s.state, String(s.requests.total), String(s.requests['4xx']), String(s.requests['5xx']), String(s.inFlight),
    milliseconds(s.latency.p99), s.domains.join(', '),
  ].map(escapeControls));
  out(table([['SITE', 'STATE', 'REQUESTS', '4XX', '5XX', 'IN FLIGHT', 'P99 MS', 'DOMAINS'], ...rows]));
  for (const s of status.sites) {
    if (s.lastError !== null) out(escapeControls(`${s.name}: last error at ${s.lastError.time}: ${s.lastError.message}`));
  }
  return OK;
}
