// The --admin option of the commands that talk to a running server (reload, status, stop).

export const ADMIN_OPTION = { admin: { type: 'string' } } as const;

export const ADMIN_OPTION_HELP = ['--admin ADDRESS', 'the admin listener: HOST:PORT or unix:/PATH (default: [admin] listen)'] as const;
