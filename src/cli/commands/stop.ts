import type { Command, Invocation } from '../command.js';
import { ADMIN_OPTION, ADMIN_OPTION_HELP } from '../admin-option.js';

// `hostmux stop`: asks the running server to drain and exit.

async function run({ configDir, values }: Invocation): Promise<number> {
  const { stopThroughAdmin } = await import('../admin-commands.js');
  return stopThroughAdmin(configDir, values);
}

export const stop: Command = {
  name: 'stop',
  summary: 'stop the running server: it drains, then exits',
  synopsis: '[--admin ADDRESS]',
  description: [
    'Asks the running hostmux serve, through its admin listener, to stop as SIGTERM',
    'would: no new connections, in-flight requests finish within --drain, then it',
    'exits. Returns once the server has taken the order. Exit status: 0 taken,',
    '2 no server answered.',
  ].join('\n'),
  options: ADMIN_OPTION,
  optionHelp: [ADMIN_OPTION_HELP],
  arity: [0, 0],
  run,
};
