/**
 * Import rules of the house (docs/architecture.md, /STYLE "The folder list tells the data flow"):
 * no cycles, no deep imports into another package's src/, and the fog → cloud layering.
 * Run: npm run lint:imports (part of `npm test`'s pretest). test/house/import-rules.test.ts plants
 * violations and shows each rule fires.
 */
// a workspace package folder: packages/<name>/ or simulators/
const PKG = '^(packages/[^/]+|simulators)/'
const runtime = (name) => `^packages/${name}/src/`
const pkg = (names) => `^packages/(${names.join('|')})/`

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A file-level import cycle: split the shared part into its own file.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-deep-import',
      severity: 'error',
      comment: 'Import another package by its name (its exports map), never a path into its src/.',
      from: { path: '(^|/)(packages/[^/]+|simulators|test|bench)/' },
      to: { path: '(^|/)@fogline/[^/]+/.+' },
    },
    {
      name: 'no-cross-package-path',
      severity: 'error',
      comment: "A relative path into another package's files: import it by its package name instead.",
      from: { path: `${PKG}` },
      to: { path: `${PKG}`, pathNot: ['^$1/', '^(packages/[^/]+|simulators)/src/index\\.ts$'] },
    },
    {
      name: 'no-path-into-src-from-root-tests',
      severity: 'error',
      comment: "Root tests and benches use a package's exports map, never a path into its src/.",
      from: { path: '^(test|bench)/' },
      to: { path: `${PKG}`, pathNot: '^(packages/[^/]+|simulators)/src/index\\.ts$' },
    },
    {
      name: 'protocol-imports-no-package',
      severity: 'error',
      comment: 'protocol is the shared contract: it imports no other @fogline package.',
      from: { path: pkg(['protocol']) },
      to: { path: PKG, pathNot: pkg(['protocol']) },
    },
    {
      name: 'uplink-not-downstream',
      severity: 'error',
      comment: 'uplink never imports node, pipeline or cloud (config travels as messages).',
      from: { path: pkg(['uplink']) },
      to: { path: pkg(['node', 'pipeline', 'cloud']) },
    },
    {
      name: 'fog-parts-not-root',
      severity: 'error',
      comment: 'outbox, pipeline and broker never import node, cloud or uplink.',
      from: { path: pkg(['outbox', 'pipeline', 'broker']) },
      to: { path: pkg(['node', 'cloud', 'uplink']) },
    },
    {
      name: 'cloud-not-fog-runtime',
      severity: 'error',
      comment: "cloud never imports the fog node's runtime (node, pipeline).",
      from: { path: runtime('cloud') },
      to: { path: pkg(['node', 'pipeline']) },
    },
    {
      name: 'runtime-not-testkit',
      severity: 'error',
      comment: 'Runtime code never imports the testkit.',
      from: { path: '^(packages/(?!testkit/)[^/]+|simulators)/src/' },
      to: { path: pkg(['testkit']) },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['(^|/)(dist|node_modules)/', '^packages/dashboard/public/'] },
    // type-only imports count: a cycle through types is still a cycle for a reader
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    // workspace packages resolve through the `source` export condition to their TypeScript
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['source', 'import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    combinedDependencies: false,
    skipAnalysisNotInRules: true,
  },
}
