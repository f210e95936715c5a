import { lstatSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { OK, PROBLEMS, type Command, type Invocation } from '../command.js';
import { err, out } from '../output.js';
import { AVAILABLE, ENABLED } from '../site-dirs.js';

// `hostmux init [DIR]`: its help and its code. It writes a small working
// tree, the one the README's quick start uses, and never overwrites anything.

const SITE = 'hello';

/** What init writes, relative to DIR: a file's text, or the target of a relative link. */
const TREE: readonly (readonly [path: string, content: string | { link: string }])[] = [
  ['hostmux.conf', [
    '; hostmux\'s server-wide settings (README: "hostmux.conf").',
    '[server]',
    '; Which files are sites: every .ini in sites-enabled (the default).',
    'sites = sites-enabled/*.ini',
    '; Loggers and log files (README: "Logging").',
    'logging = logging.ini',
    '',
  ].join('\n')],
  ['logging.ini', [
    '; hostmux\'s own messages and each site\'s (site.<name>) as text lines on stderr.',
    '; Add [logger:access] with a handler for an access log (README: "Logging").',
    '[logger:root]',
    'level = info',
    'handlers = console',
    '',
    '[handler:console]',
    'destination = stderr',
    'format = text',
    '',
  ].join('\n')],
  [`${AVAILABLE}/${SITE}.ini`, [
    `; The site ${SITE}: the host names it answers and the module that answers them.`,
    `; It is enabled by the link ${ENABLED}/${SITE}.ini (hostmux enable / disable).`,
    '[site]',
    `domains = ${SITE}.localhost, *.${SITE}.localhost`,
    '; Relative to this file\'s directory.',
    `handler = ../sites/${SITE}/app.mjs`,
    '',
  ].join('\n')],
  [`sites/${SITE}/app.mjs`, [
    `// The site ${SITE} (README: "Site modules"): createHandler(site) is called once`,
    '// per load and returns a Node request listener (or an object with fetch()).',
    'export function createHandler(site) {',
    '  site.logger.info(\'ready\');',
    '  return (req, res) => {',
    '    res.setHeader(\'content-type\', \'text/plain; charset=utf-8\');',
    '    res.end(`Hello from ${site.name}\\n`);',
    '  };',
    '}',
    '',
  ].join('\n')],
  [`${ENABLED}/${SITE}.ini`, { link: `../${AVAILABLE}/${SITE}.ini` }],
];

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** `dir` as a shell word, for the commands printed. */
function shellWord(dir: string): string {
  return /^[\w@%+=:,./-]+$/.test(dir) ? dir : `'${dir.replaceAll("'", "'\\''")}'`;
}

/** Writes TREE under `root`; on a failure, removes what it wrote and rethrows. */
function write(root: string): void {
  const written: string[] = [];
  try {
    for (const [path, content] of TREE) {
      const full = join(root, path);
      mkdirSync(dirname(full), { recursive: true });
      if (typeof content === 'string') writeFileSync(full, content, { flag: 'wx' });
      else symlinkSync(content.link, full);
      written.push(full);
    }
  } catch (error) {
    for (const full of written.reverse()) rmSync(full, { force: true });
    throw error;
  }
}

/** Shell lines with aligned `# comments`. */
function commented(lines: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...lines.map(([line]) => line.length));
  return lines.map(([line, comment]) => `  ${line.padEnd(width)}  # ${comment}`);
}

async function run({ configDir, positionals }: Invocation): Promise<number> {
  const given = positionals[0];
  const root = given === undefined ? configDir : resolve(given);
  const taken = TREE.map(([path]) => path).filter((path) => exists(join(root, path)));
  if (taken.length > 0) {
    err(`hostmux: init writes nothing: ${root} already has ${taken.join(', ')}`);
    return PROBLEMS;
  }
  try {
    write(root);
  } catch (error) {
    err(`hostmux: init wrote nothing: ${(error as Error).message}`);
    return PROBLEMS;
  }
  const dir = shellWord(given ?? configDir);
  out([
    `Wrote a configuration tree in ${root}:`,
    ...TREE.map(([path, content]) => `  ${path}${typeof content === 'string' ? '' : ` -> ${content.link}`}`),
    '',
    'Next:',
    ...commented([
      [`hostmux --config ${dir} check`, 'load the site, print the routing table'],
      [`hostmux --config ${dir} serve --port 8080`, 'serve it; stop with Ctrl-C'],
      [`curl http://${SITE}.localhost:8080/`, `"Hello from ${SITE}"`],
    ]),
    '',
    `Add a site: write ${AVAILABLE}/NAME.ini (and its module), then`,
    `  hostmux --config ${dir} enable NAME`,
  ].join('\n'));
  return OK;
}

export const init: Command = {
  name: 'init',
  summary: 'write a working configuration tree with one site, to start from',
  synopsis: '[DIR]',
  description: [
    'Writes a configuration tree into DIR (else the configuration directory):',
    'hostmux.conf, logging.ini, the site hello in sites-available/hello.ini,',
    'enabled by the relative link sites-enabled/hello.ini, and its handler module',
    'sites/hello/app.mjs, answering hello.localhost. Then it prints what to run next.',
    'DIR may exist; if any of those files is already there, nothing is written',
    'and the exit status is 1.',
  ].join('\n'),
  options: {},
  optionHelp: [],
  arity: [0, 1],
  run,
};
