import type { Command, Invocation } from '../command.js';

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
  options: { admin: { type: 'string' } },
  optionHelp: [['--admin ADDRESS', 'the admin listener: HOST:PORT or unix:/PATH (default: [admin] listen)']],
  arity: [0, 0],
  run,
};
