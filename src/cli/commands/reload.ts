import type { Command, Invocation } from '../command.js';
import { ADMIN_OPTION, ADMIN_OPTION_HELP } from '../admin-option.js';

// `hostmux reload`: asks the running server's admin listener to reload and
// says what happened (where SIGHUP can only be sent and hoped for).

const UNREACHABLE = 2;

async function run({ configDir, values }: Invocation): Promise<number> {
  const { reloadThroughAdmin } = await import('../admin-commands.js');
  const outcome = await reloadThroughAdmin(configDir, values);
  return outcome === 'unreachable' ? UNREACHABLE : outcome;
}

export const reload: Command = {
  name: 'reload',
  summary: 'reload the running server and print what changed, or every problem',
  synopsis: '[--admin ADDRESS]',
  description: [
    'Asks the running hostmux serve, through its admin listener ([admin] listen in',
    'hostmux.conf, or --admin), to reload the tree, and waits for the result: the',
    'sites added, removed, reloaded and kept, or every problem of a refused tree (the',
    'previous configuration keeps serving). Exit status: 0 reloaded, 1 refused,',
    '2 no server answered.',
  ].join('\n'),
  options: ADMIN_OPTION,
  optionHelp: [ADMIN_OPTION_HELP],
  arity: [0, 0],
  run,
};
