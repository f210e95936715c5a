import type { Command, Invocation } from '../command.js';
import { ADMIN_OPTION, ADMIN_OPTION_HELP } from '../admin-option.js';

// `hostmux status`: the running server's sites, as a table or JSON.

async function run({ configDir, values }: Invocation): Promise<number> {
  const { statusThroughAdmin } = await import('../admin-commands.js');
  return statusThroughAdmin(configDir, values);
}

export const status: Command = {
  name: 'status',
  summary: 'print the running server\'s sites: state, requests, errors, latency',
  synopsis: '[--json] [--site NAME] [--admin ADDRESS]',
  description: [
    'Asks the running hostmux serve, through its admin listener, for its figures,',
    'added up over every worker, and prints one row per site: state, requests,',
    '4xx and 5xx responses, in flight, p99 latency (ms, the last 30 to 60 s), domains.',
    'Exit status: 0, 1 for an unknown --site, 2 no server answered.',
  ].join('\n'),
  options: { json: { type: 'boolean' }, site: { type: 'string' }, ...ADMIN_OPTION },
  optionHelp: [
    ['--json', 'print the JSON the admin listener\'s /status answers'],
    ['--site NAME', 'only this site'],
    ADMIN_OPTION_HELP,
  ],
  arity: [0, 0],
  run,
};
