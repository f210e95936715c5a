/**
 * One problem found in the configuration tree.
 * @public
 */
export interface ConfigProblem {
  /** The file, relative to the configuration directory (`sites-enabled/blog.ini`). */
  readonly file: string;
  /** The INI section the problem is in, when it is in one. */
  readonly section?: string;
  /** The key the problem is about, when it is about one. */
  readonly key?: string;
  /** The 1-based line number, when the problem is about one line. */
  readonly line?: number;
  /** What is wrong, as a sentence. */
  readonly message: string;
}

/**
 * One site whose module could not be loaded.
 * @public
 */
export interface SiteLoadProblem {
  /** The site's name. */
  readonly site: string;
  /** The site file, relative to the configuration directory. */
  readonly file: string;
  /** Why it failed, naming the module. */
  readonly message: string;
}

/** One problem as `file:line [section] key: message` (the command prints them so too). */
export function formatProblem(problem: ConfigProblem): string {
  let where = problem.file;
  if (problem.line !== undefined) where += `:${problem.line}`;
  if (problem.section !== undefined) where += ` [${problem.section}]`;
  if (problem.key !== undefined) where += ` ${problem.key}`;
  return `${where}: ${problem.message}`;
}

/** How much of a configured value a problem message quotes. */
const QUOTED_LENGTH = 100;

/**
 * A configured value for a problem message: in double quotes, cut to 100
 * characters with `…`, so that a huge value (a 1 MB domain) does not make a
 * huge message.
 */
export function quote(value: string): string {
  return `"${value.length > QUOTED_LENGTH ? `${value.slice(0, QUOTED_LENGTH)}…` : value}"`;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * Every problem of a configuration tree, thrown together so that nothing is
 * half-loaded. Match on `code`, not on the message.
 *
 * @example
 * ```ts
 * try {
 *   createApplication('/etc/hostmux');
 * } catch (err) {
 *   if (err.code === 'HOSTMUX_CONFIG') for (const p of err.problems) console.error(p.file, p.key, p.message);
 * }
 * ```
 * @public
 */
export class ConfigError extends Error {
  /** Always `'HOSTMUX_CONFIG'`. */
  readonly code = 'HOSTMUX_CONFIG';
  /** Every problem found, in file order. */
  readonly problems: readonly ConfigProblem[];

  /**
   * @param problems - every problem found in the tree (at least one)
   */
  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  ${formatProblem(p)}`);
    super(`${plural(problems.length, 'configuration problem')}:\n${lines.join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Thrown (as a rejection) by `app.ready()` when one or more site modules fail
 * to load. The other sites are loaded and serve.
 * @public
 */
export class SiteLoadError extends Error {
  /** Always `'HOSTMUX_SITE_LOAD'`. */
  readonly code = 'HOSTMUX_SITE_LOAD';
  /** One entry per site that failed. */
  readonly problems: readonly SiteLoadProblem[];

  /**
   * @param problems - one entry per site that failed (at least one)
   */
  constructor(problems: readonly SiteLoadProblem[]) {
    const lines = problems.map((p) => `  ${p.site} (${p.file}): ${p.message}`);
    super(`${plural(problems.length, 'site')} failed to load:\n${lines.join('\n')}`);
    this.name = 'SiteLoadError';
    this.problems = problems;
  }
}
