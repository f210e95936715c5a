import type { Application } from '../application.js';
import { normalizeHost } from '../routing/hostname.js';
import { OK, PROBLEMS, type Invocation } from './command.js';
import { startApplication } from './lifecycle.js';
import { err, json, out, table } from './output.js';

/** What `match --json` prints: the site that would answer, or `site: null` and why not. */
type MatchReport =
  | { host: string; site: string; pattern: string | null; wildcards: readonly string[]; file: string }
  | { host: string; site: null; reason: string };

function matchHost(app: Application, written: string): MatchReport {
  const host = normalizeHost(written);
  if (host === undefined) {
    return { host: written, site: null, reason: `"${written}" is not a valid host name: a request for it is answered 400` };
  }
  const hit = app.match(host);
  if (hit === null) return { host, site: null, reason: `no site claims ${host} and there is no default_site` };
  const file = app.sites.find((site) => site.name === hit.site)?.file ?? '';
  return { host, site: hit.site, pattern: hit.pattern, wildcards: hit.wildcards, file };
}

/** `hostmux match HOST`: see commands.ts. */
export async function match({ configDir, values, positionals }: Invocation): Promise<number> {
  const app = startApplication(configDir);
  if (app === undefined) return PROBLEMS;
  // Modules load lazily, so this closes nothing but the log destinations.
  await app.close();
  const report = matchHost(app, positionals[0]!);
  if (values.json === true) json(report);
  else if (report.site === null) err(`hostmux: ${report.reason}`);
  else {
    out(table([
      ['host:', report.host],
      ['site:', report.site],
      ['pattern:', report.pattern ?? '(default_site)'],
      ...(report.wildcards.length > 0 ? [['wildcards:', report.wildcards.map((part) => JSON.stringify(part)).join(', ')]] : []),
      ['file:', report.file],
    ]));
  }
  return report.site === null ? PROBLEMS : OK;
}
