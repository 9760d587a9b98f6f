'use strict'
// Coverage of the Node processes the tests start, for Stryker's per-test coverage
// analysis (see stryker.config.mjs). Stryker's tap runner learns which mutants a test
// file reaches from the counts its instrumented code keeps in the test process; the
// CLI's code runs in child processes the tests start, whose counts it never sees, so a
// mutant only they reach would look untested.
//
// Loaded with -r into each test process ahead of Stryker's own hook. In the dry run
// (the run that measures coverage) it passes itself on to every Node process the test
// starts (NODE_OPTIONS), each of which writes its counts to a folder at exit; at the
// test process's exit, before Stryker's hook writes the counts out, the children's are
// added to the test process's own. A child killed outright (SIGKILL) writes nothing:
// what only it reached then counts as untested, never the other way round.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const FOLDER = 'LD_STRYKER_CHILD_COVERAGE'
const namespace = process.env.STRYKER_NAMESPACE || '__stryker__'
const folder = process.env[FOLDER]

if (folder) {
  // A process a test started (or one that one of those started).
  process.on('exit', () => {
    const coverage = globalThis[namespace]?.mutantCoverage
    if (!coverage) return
    try {
      fs.writeFileSync(path.join(folder, `${process.pid}-${Date.now()}.json`), JSON.stringify(coverage))
    } catch {
      // the test process has gone, and its folder with it
    }
  })
} else if (process.env.STRYKER_DRY_RUN === 'true') {
  // The test process, while coverage is measured.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ld-stryker-coverage-'))
  process.env[FOLDER] = dir
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(__filename)}`.trim()
  process.on('exit', () => {
    const own = globalThis[namespace]
    if (!own) return
    const coverage = (own.mutantCoverage ??= { static: {}, perTest: {} })
    coverage.static ??= {}
    const add = (counts) => {
      for (const [id, n] of Object.entries(counts ?? {})) coverage.static[id] = (coverage.static[id] ?? 0) + n
    }
    for (const file of fs.readdirSync(dir)) {
      try {
        const child = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))
        add(child.static)
        for (const counts of Object.values(child.perTest ?? {})) add(counts)
      } catch {
        // a child cut short while writing: what it reached counts as untested
      }
    }
    fs.rmSync(dir, { recursive: true, force: true })
  })
}
