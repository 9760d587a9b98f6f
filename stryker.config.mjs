// Mutation testing of the JavaScript (lib/, testing/) with StrykerJS, through the tap
// runner (node's own test runner prints TAP).
//
//   npx stryker run                                   every file under lib/ and testing/
//   LD_MUTATE=lib/cli/args.js npx stryker run         some files (comma-separated;
//                                                     file:from-to for lines)
//   node scripts/mutation-js.js [--base REV]         the files changed since REV (CI)
//
// Each mutant runs only the tests that reach it (per-test coverage analysis), stopping
// at the first that fails. For that:
// - the test files that exercise its file (TESTS_FOR below) are cut into one file per
//   test (scripts/stryker-split.mjs), since the tap runner counts a file as one test;
// - the coverage of the processes the tests start (the CLI, in cli.test.mjs) joins that
//   of the test process (scripts/stryker-child-coverage.cjs), which is all Stryker
//   would see otherwise. The mutant is switched on in those child processes too: they
//   inherit the environment variable that names it.
// LD_MUTATION_COVERAGE=off (every mutant runs every chosen test) and LD_MUTATION_SPLIT=0
// (whole files) turn these off.
// Mutants shown to be equivalent are disabled where they are, with a
// `// Stryker disable next-line <mutator>: <reason>` comment.

import { fileURLToPath } from 'node:url'

import { splitTests } from './scripts/stryker-split.mjs'

/** The test files that exercise each source file, fastest first. */
const CLI = ['__test__/args.test.mjs', '__test__/cli-many.test.mjs', '__test__/rollout-main.test.mjs', '__test__/cli-main.test.mjs', '__test__/render.test.mjs', '__test__/cli-interrupt.test.mjs', '__test__/cli-hostile.test.mjs', '__test__/cli-rollout.test.mjs', '__test__/cli.test.mjs']
const TESTS_FOR = {
  'lib/cli/args.js': ['__test__/args.test.mjs', '__test__/cli.test.mjs'],
  'lib/cli/render.js': ['__test__/render.test.mjs', '__test__/cli.test.mjs'],
  'lib/cli/interrupt.js': ['__test__/cli-interrupt.test.mjs'],
  'lib/cli/phases.js': ['__test__/phases.test.mjs', ...CLI],
  'lib/cli/pipeline.js': ['__test__/phases.test.mjs', ...CLI],
  'lib/cli/rollout-parse.js': ['__test__/rollout-parse.test.mjs', ...CLI],
  'lib/cli/verbose.js': ['__test__/verbose.test.mjs', ...CLI],
  'lib/cli/rollout-render.js': ['__test__/rollout-render.test.mjs', ...CLI],
  'lib/cli/': CLI,
  'testing/index.js': ['__test__/fake-limits.test.mjs', '__test__/fake.test.mjs', '__test__/phase-start.test.mjs', '__test__/cli.test.mjs'],
  // The file that kills most of its mutants first.
  'testing/environments.js': ['__test__/fake-environments.test.mjs', '__test__/fake.test.mjs', '__test__/fake-limits.test.mjs', '__test__/rollout-main.test.mjs', '__test__/environment-watch.test.mjs', '__test__/cli-rollout.test.mjs', '__test__/cli.test.mjs'],
  'testing/': ['__test__/fake.test.mjs', '__test__/fake-environments.test.mjs', '__test__/fake-limits.test.mjs', '__test__/cli-rollout.test.mjs', '__test__/cli.test.mjs'],
}

const childCoverage = fileURLToPath(new URL('./scripts/stryker-child-coverage.cjs', import.meta.url))

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
const chosenFiles = process.env.LD_MUTATION_TESTS ? process.env.LD_MUTATION_TESTS.split(',') : testFilesFor(mutate)
// Each test of those files is a test of its own for Stryker (scripts/stryker-split.mjs),
// unless LD_MUTATION_SPLIT=0.
const testFiles = process.env.LD_MUTATION_SPLIT === '0' ? chosenFiles : splitTests(fileURLToPath(new URL('.', import.meta.url)), chosenFiles)

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  plugins: ['@stryker-mutator/tap-runner'],
  testRunner: 'tap',
  // scripts/stryker-child-coverage.cjs before Stryker's hook: the coverage of the
  // processes the tests start joins that of the test process.
  tap: { testFiles, forceBail: true, nodeArgs: ['-r', childCoverage, '-r', '{{hookFile}}'] },
  coverageAnalysis: process.env.LD_MUTATION_COVERAGE ?? 'perTest',
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
  // LD_MUTATION_INCREMENTAL names a results file that a run reuses mutant by mutant
  // (Stryker's incremental mode): a mutant is run again only when its code changed, or
  // the test that killed it, or the tests that reach it (scripts/mutation-js.js --all).
  ...(process.env.LD_MUTATION_INCREMENTAL ? { incremental: true, incrementalFile: process.env.LD_MUTATION_INCREMENTAL } : {}),
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
}
