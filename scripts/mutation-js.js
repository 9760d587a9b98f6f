#!/usr/bin/env node
// Mutation testing of the JavaScript a change touches (see stryker.config.mjs and the
// README's "Mutation testing"): runs Stryker once per changed file under lib/ and
// testing/, within a time budget, and fails when a mutant survives.
//
//   node scripts/mutation-js.js [--base REV] [--budget-minutes N] [FILE...]
//   node scripts/mutation-js.js --all [--budget-minutes N] [FILE...]
//
// --all: every file under lib/ and testing/ (or the FILEs), whole: a whole run, which may be made in
// several sittings: each file's results are kept in reports/mutation/files/ with a
// digest of the file, the tests and the mutation setup, and a file whose kept results
// are current is not run again. A file that is run again reuses, mutant by mutant, what
// is still true of the earlier runs (Stryker's incremental mode, with its results in
// reports/mutation/stryker-incremental.json): a mutant whose code, killing test and
// covering tests are unchanged keeps its outcome.
// Without FILEs, the lines changed since REV (default HEAD^1) in the files that still
// exist, as `file:from-to` ranges (a FILE may be given so too). Each file is one
// Stryker run; a file whose run the budget would cut short is not started, or stopped,
// and the files left untested are named. Exit: 0 every mutant of the files
// tested was killed (or timed out: a mutant that hangs the tests counts as caught),
// 1 a mutant survived or had no test, 2 Stryker itself failed.
'use strict'

const { execFileSync, spawn } = require('node:child_process')
const { createHash } = require('node:crypto')
const { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')

const root = join(__dirname, '..')
const args = process.argv.slice(2)
let base = 'HEAD^1'
let budgetMinutes = 20
let all = false
const files = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--base') base = args[++i]
  else if (args[i] === '--all') all = true
  else if (args[i] === '--budget-minutes') budgetMinutes = Number(args[++i])
  else files.push(args[i])
}
if (!(budgetMinutes > 0)) {
  console.error('mutation-js: --budget-minutes must be a positive number')
  process.exit(2)
}

if (all && files.length === 0) {
  const tracked = execFileSync('git', ['ls-files', '--', 'lib/*.js', 'testing/*.js'], { cwd: root, encoding: 'utf8' })
  files.push(...tracked.split('\n').filter(Boolean))
}
if (files.length === 0) {
  // The lines each changed file has that its version at `base` did not: `file:from-to`
  // ranges, which Stryker takes in its mutate list.
  const diff = execFileSync('git', ['diff', '-U0', '--diff-filter=d', base, '--', 'lib/*.js', 'testing/*.js'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
  let file
  for (const line of diff.split('\n')) {
    if (line.startsWith('+++ ')) file = line.slice(4).replace(/^b\//, '')
    const hunk = /^@@ -\S+ \+(\d+)(?:,(\d+))? @@/.exec(line)
    if (hunk && file) {
      const [from, count] = [Number(hunk[1]), hunk[2] === undefined ? 1 : Number(hunk[2])]
      if (count > 0) files.push(`${file}:${from}-${from + count - 1}`)
    }
  }
}
if (files.length === 0) {
  console.log(`mutation-js: no JavaScript under lib/ or testing/ changed since ${base}`)
  process.exit(0)
}

/**
 * Runs Stryker on `mutate` (files or `file:from-to` ranges) in a process group of its own; past `ms`, the whole group
 * (Stryker and the test processes it started) is stopped.
 */
function stryker(mutate, ms) {
  const bin = join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js')
  // A whole run reuses the outcome of each mutant whose code and tests are unchanged
  // since it was judged (Stryker's incremental mode, one results file for all files).
  const incremental = all ? { LD_MUTATION_INCREMENTAL: join(root, 'reports/mutation/stryker-incremental.json') } : {}
  const child = spawn(process.execPath, [bin, 'run'], { cwd: root, stdio: 'inherit', detached: true, env: { ...process.env, ...incremental, LD_MUTATE: mutate } })
  let timedOut = false
  const stop = (signal) => {
    try {
      process.kill(-child.pid, signal)
    } catch {
      // already gone
    }
  }
  const timer = setTimeout(() => {
    timedOut = true
    stop('SIGINT')
    setTimeout(() => stop('SIGKILL'), 30_000).unref()
  }, Math.max(ms, 1))
  return new Promise((resolve) => {
    child.on('exit', (status) => {
      clearTimeout(timer)
      stop('SIGKILL')
      resolve({ status, timedOut })
    })
  })
}

async function main() {
  // One Stryker run per file, with all of its ranges.
  const byFile = new Map()
  for (const entry of files) {
    const name = entry.replace(/:[\d:-]+$/, '')
    byFile.set(name, [...(byFile.get(name) ?? []), entry])
  }

  const deadline = Date.now() + budgetMinutes * 60_000
  const report = join(root, 'reports/mutation/mutation.json')
  const totals = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 }
  const problems = []
  const untested = []
  const perFile = []
  let previousMs = 0
  for (const [file, ranges] of byFile) {
    // A file is started only if a run as long as the last one still fits.
    if (Date.now() + previousMs > deadline) {
      untested.push(file)
      continue
    }
    const whole = ranges.length === 1 && ranges[0] === file
    const kept = join(root, 'reports/mutation/files', `${file.replace(/[/\\]/g, '__')}.json`)
    const digest = whole ? digestOf(file) : null
    const earlier = whole && existsSync(kept) ? JSON.parse(readFileSync(kept, 'utf8')) : null
    let results
    if (earlier?.digest === digest) {
      console.log(`mutation-js: ${file}: results kept from an earlier run of the same file and tests`)
      results = earlier.results
    } else {
      // A file is started only if a run as long as the last one still fits.
      if (Date.now() + previousMs > deadline) {
        untested.push(file)
        continue
      }
      console.log(`mutation-js: ${ranges.join(', ')}`)
      const started = Date.now()
      rmSync(report, { force: true })
      const run = await stryker(ranges.join(','), deadline - Date.now())
      previousMs = Date.now() - started
      if (run.timedOut) {
        untested.push(file)
        continue
      }
      if (run.status === 0 && !existsSync(report)) {
        console.log(`mutation-js: no mutant in ${ranges.join(', ')}`)
        continue
      }
      if (run.status !== 0) {
        console.error(`mutation-js: Stryker failed on ${file} (exit ${run.status})`)
        process.exit(2)
      }
      results = JSON.parse(readFileSync(report, 'utf8'))
      // The report also carries the other files' outcomes that the incremental run
      // brought forward: only this file's are its results.
      results = { files: Object.fromEntries(Object.entries(results.files).filter(([name]) => name === file || name.endsWith(`/${file}`))) }
      if (whole) {
        mkdirSync(join(root, 'reports/mutation/files'), { recursive: true })
        writeFileSync(kept, JSON.stringify({ digest, seconds: Math.round(previousMs / 1000), results }))
      }
      console.log(`mutation-js: ${file} took ${Math.round(previousMs / 1000)} s`)
    }
    const counts = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 }
    for (const [name, result] of Object.entries(results.files)) {
      for (const mutant of result.mutants) {
        const key = { Killed: 'killed', Timeout: 'timeout', Survived: 'survived', NoCoverage: 'noCoverage', Ignored: 'ignored' }[mutant.status] ?? 'errors'
        totals[key]++
        counts[key]++
        if (key === 'survived' || key === 'noCoverage') {
          const where = `${name}:${mutant.location.start.line}:${mutant.location.start.column}`
          problems.push(`${where} ${mutant.mutatorName}: ${mutant.replacement ?? ''} (${mutant.status})`)
        }
      }
    }
    const judged = counts.killed + counts.timeout + counts.survived + counts.noCoverage
    perFile.push({ file, ...counts, score: judged ? (100 * (counts.killed + counts.timeout)) / judged : 100 })
  }
  if (perFile.length > 1) {
    console.log('mutation-js: file | killed | timed out | survived | no test | disabled | not viable | score')
    for (const f of perFile) console.log(`  ${f.file} | ${f.killed} | ${f.timeout} | ${f.survived} | ${f.noCoverage} | ${f.ignored} | ${f.errors} | ${f.score.toFixed(1)}%`)
  }

  const tested = totals.killed + totals.timeout + totals.survived + totals.noCoverage
  const score = tested ? (100 * (totals.killed + totals.timeout)) / tested : 100
  console.log(
    `mutation-js: ${byFile.size - untested.length} of ${byFile.size} files, ${tested} mutants: ${totals.killed} killed, ${totals.timeout} timed out, ` +
      `${totals.survived} survived, ${totals.noCoverage} without a test (${totals.ignored} disabled as equivalent, ${totals.errors} not viable); score ${score.toFixed(1)}%`,
  )
  if (untested.length) console.log(`mutation-js: time budget reached; not tested: ${untested.join(', ')}`)
  if (problems.length) {
    console.log(`mutation-js: these mutants${all ? '' : ' of changed JavaScript'} survive every test:`)
    for (const line of problems) console.log(`  ${line}`)
    process.exit(1)
  }
}

/**
 * What the results of mutating all of `file` depend on: the file, every test file, the
 * package's other JavaScript, and the mutation setup.
 */
function digestOf(file) {
  const hash = createHash('sha256')
  const inputs = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', '__test__', 'lib', 'testing', 'index.js', 'bin', 'stryker.config.mjs', 'scripts/stryker-split.mjs', 'scripts/stryker-child-coverage.cjs'], { cwd: root, encoding: 'utf8' })
  for (const input of [file, ...inputs.split('\n').filter(Boolean).sort()]) {
    if (existsSync(join(root, input))) hash.update(input).update(readFileSync(join(root, input)))
  }
  // The addon the tests load.
  for (const addon of readdirSync(root).filter((f) => f.endsWith('.node')).sort()) hash.update(readFileSync(join(root, addon)))
  return hash.digest('hex')
}

main()
