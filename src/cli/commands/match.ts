import type { Application } from '../../application.js';
import { OK, PROBLEMS, type Command, type Invocation } from '../command.js';
import { err, json, out, table } from '../output.js';

// `hostmux match`: its help and its code. The application is imported only when it runs.

/** What `match --json` prints: the site that would answer, or `site: null` and why not. */
type MatchReport =
  | { host: string; site: string; pattern: string | null; wildcards: readonly string[]; file: string }
  | { host: string; site: null; reason: string };

function matchHost(app: Application, written: string, normalizeHost: (host: string) => string | undefined): MatchReport {
  const host = normalizeHost(written);
  if (host === undefined) {
    return { host: written, site: null, reason: `"${written}" is not a valid host name: a request for it is answered 400` };
  }
  const hit = app.match(host);
  if (hit === null) return { host, site: null, reason: `no site claims ${host} and there is no default_site` };
  const file = app.sites.find((site) => site.name === hit.site)?.file ?? '';
  return { host, site: hit.site, pattern: hit.pattern, wildcards: hit.wildcards, file };
}

async function run({ configDir, values, positionals }: Invocation): Promise<number> {
  const [{ startApplication }, { normalizeHost }] = await Promise.all([import('../serve/lifecycle.js'), import('../../routing/hostname.js')]);
  const app = startApplication(configDir);
  if (app === undefined) return PROBLEMS;
  // Modules load lazily, so this closes nothing but the log destinations.
  await app.close();
  const report = matchHost(app, positionals[0]!, normalizeHost);
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

export const match: Command = {
  name: 'match',
  summary: 'show which site, pattern and file would answer a host name',
  synopsis: 'HOST [--json]',
  description: [
    'Routes HOST (a Host header value; a port is ignored) as a request would be',
    'routed and prints the site that would answer it, the domain or pattern that',
    'matched (or default_site), the pattern\'s wildcard parts and the site file.',
    'Exits 1 when no site would answer, or the host is invalid.',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', 'print { host, site, pattern, wildcards, file } (or { host, site: null, reason }) as JSON']],
  arity: [1, 1],
  run,
};
