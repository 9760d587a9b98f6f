// Mutation testing of the JavaScript (lib/, testing/) with StrykerJS: each mutant is
// run against the Node test files that exercise its file (TESTS_FOR below), through the
// tap runner (node's own test runner prints TAP), stopping at the first failing file.
//
//   npx stryker run                                   every file under lib/ and testing/
//   LD_MUTATE=lib/cli/args.js npx stryker run         some files (comma-separated;
//                                                     file:from-to for lines)
//   node scripts/mutation-js.js [--base REV]         the files changed since REV (CI)
//
// Coverage analysis is off: most of lib/cli runs in the child processes that
// cli.test.mjs starts, whose coverage Stryker cannot see, so every mutant runs its
// files' tests (the fast in-process ones first). The mutant is switched on in those
// child processes too: they inherit the environment variable that names it.
// Mutants shown to be equivalent are disabled where they are, with a
// `// Stryker disable next-line <mutator>: <reason>` comment.

/** The test files that exercise each source file, fastest first. */
const TESTS_FOR = {
  'lib/cli/args.js': ['__test__/args.test.mjs', '__test__/cli.test.mjs'],
  'lib/cli/render.js': ['__test__/render.test.mjs', '__test__/cli.test.mjs'],
  'lib/cli/interrupt.js': ['__test__/cli-interrupt.test.mjs'],
  'lib/cli/': ['__test__/cli-interrupt.test.mjs', '__test__/cli.test.mjs'],
  'testing/': ['__test__/fake.test.mjs', '__test__/cli.test.mjs'],
}

const ALL = ['lib/**/*.js', 'testing/**/*.js']

const mutate = process.env.LD_MUTATE
  ? process.env.LD_MUTATE.split(',').map((f) => f.trim()).filter(Boolean)
  : ALL

/** The test files for the files to mutate: those of the most specific entry of each. */
function testFilesFor(files) {
  const keys = Object.keys(TESTS_FOR).sort((a, b) => b.length - a.length)
  const chosen = new Set()
  for (const entry of files) {
    const file = entry.replace(/:[\d:-]+$/, '') // without a line range
    const key = keys.find((k) => file === k || (k.endsWith('/') && file.startsWith(k)))
    for (const test of key ? TESTS_FOR[key] : Object.values(TESTS_FOR).flat()) chosen.add(test)
  }
  // The slow CLI suite last, so that the fast files kill what they can first.
  const slow = (f) => (f.endsWith('/cli.test.mjs') ? 1 : 0)
  return [...chosen].sort((a, b) => slow(a) - slow(b))
}

// LD_MUTATION_TESTS (comma-separated) replaces the test files, e.g. to measure one.
const testFiles = process.env.LD_MUTATION_TESTS ? process.env.LD_MUTATION_TESTS.split(',') : testFilesFor(mutate)

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  plugins: ['@stryker-mutator/tap-runner'],
  testRunner: 'tap',
  tap: { testFiles, forceBail: true },
  coverageAnalysis: 'off',
  mutate,
  // The sandbox needs the package (index.js, the addon, bin/, lib/, testing/, the
  // tests), not the Rust sources and their build.
  ignorePatterns: ['/target', '/crates', '/src', '/fuzz', '/bench', '/.ci', '/.github', '/reports', '/mutants.out*', '/npm', '*.tgz'],
  concurrency: Number(process.env.LD_MUTATION_JOBS ?? 1),
  // A mutant times out at 1.5 times the unmutated run of its test files plus a minute
  // (cli.test.mjs alone takes two minutes or more on a loaded machine). A loop that no
  // longer ends is caught sooner, by the hit count the tap runner keeps.
  timeoutMS: 60000,
  timeoutFactor: 1.5,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  thresholds: { high: 100, low: 90, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
}
