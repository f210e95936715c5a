/**
 * The layers of src/, checked by `npm run deps` (dependency-cruiser) in CI.
 * From the bottom: symbols.ts (imports nothing); routing/ and config/ (the
 * tree and host names); sites/ (the kinds of site); application/ and
 * application.ts; adapters/ (one per host framework); cli/ (the command).
 * Type-only imports count: a cycle of types is still a cycle to read.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No module may reach itself through its imports.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'symbols-import-nothing',
      comment: 'src/symbols.ts holds the request-scoped symbols; any layer may import it, so it imports nothing.',
      severity: 'error',
      from: { path: '^src/symbols\\.ts$' },
      to: {},
    },
    {
      name: 'routing-and-config-are-below',
      comment: 'routing/ and config/ import nothing above them: no application, sites, adapters or cli.',
      severity: 'error',
      from: { path: '^src/(routing|config)/' },
      to: { path: '^src/((application|sites|adapters|cli)/|(application|internal|index)\\.ts$)' },
    },
    {
      name: 'tls-is-below-the-application',
      comment: 'tls/ (certificates, the SNI choice) reads the tree; it imports no application, sites, adapters or cli.',
      severity: 'error',
      from: { path: '^src/tls/' },
      to: { path: '^src/((application|sites|adapters|cli|acme)/|(application|internal|index)\\.ts$)' },
    },
    {
      name: 'sites-do-not-import-adapters',
      comment: 'A site works the same under any host framework.',
      severity: 'error',
      from: { path: '^src/sites/' },
      to: { path: '^src/(adapters/|application/|(application|internal|index)\\.ts$)' },
    },
    {
      name: 'a-kind-is-its-own-folder',
      comment: "A kind of site (src/sites/<kind>/) imports no other kind's folder; what kinds share sits in src/sites/.",
      severity: 'error',
      from: { path: '^src/sites/([^/]+)/' },
      to: { path: '^src/sites/[^/]+/', pathNot: '^src/sites/$1/' },
    },
    {
      name: 'kinds-only-through-the-registry',
      comment: "Outside src/sites/, no code names a kind: it goes through src/sites/index.ts (the public barrel re-exports one type).",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(sites/|index\\.ts$)' },
      to: { path: '^src/sites/[^/]+/' },
    },
    {
      name: 'nothing-imports-the-cli',
      comment: 'The command is the top layer: only src/cli/ imports src/cli/.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'resolvable',
      comment: 'Every import resolves (a typo or a missing dependency).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
