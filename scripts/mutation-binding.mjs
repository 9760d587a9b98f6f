#!/usr/bin/env node
// Mutation testing of the binding (src/*.rs), whose tests are the Node suites: the
// mutants cargo-mutants lists for src/ are planted one at a time in a scratch copy of
// the package, the addon is built there (a debug build, in a target folder of its own),
// and the Node test files run against it: first those that exercise the mutated file
// (FIRST below), stopping at the first that fails; a mutant they leave alive then meets
// every other Node test file that runs its lines, fastest first, and the binding's own Rust unit tests
// (`cargo test -p ld-release --lib`), so a survivor is one every test lets through.
//
//   node scripts/mutation-binding.mjs [--file src/X.rs]... [--budget-minutes N]
//        [--shard K/N] [--slot N] [--reverse] [--list] [--fresh] [--no-coverage] [--jobs N]
//
// Coverage guides the order (--no-coverage turns it off): the addon is first built
// with LLVM's coverage instrumentation (`rustup component add llvm-tools`) and each
// Node test file run once against it, child processes and workers included; a mutant
// then meets only the files that run one of its lines (a file that never runs a line
// cannot tell the mutant from the original), and one no file runs goes straight to the
// unit tests (when they let it through it is missed, marked `uncovered`). The map is
// kept in target/mutation-binding/coverage.json for the same sources and tests.
//
// --jobs N runs the files after the first N at a time (a failure among them is then
// confirmed by running them one at a time, so that the load alone never counts as a catch).
//
// Two runs may share the work: each in a slot of its own (--slot 2: its own copy and
// build folder), one of them --reverse (from the last mutant back); before each mutant
// a run reads what the other has judged, so they meet in the middle.
//
// Outcomes go to reports/mutation-binding/outcomes.jsonl, one line per mutant, and a run
// skips the mutants already there (a whole run may be made in several sittings; --fresh
// starts over). A mutant whose build fails is unviable; one whose tests fail, or pass
// the time limit (twice the unmutated run of that file, plus 30 s), is caught; one that
// every file passes is missed. Exit: 0 nothing missed, 1 a mutant missed, 2 this script
// or the unmutated package failed.
import { execFileSync, spawn } from 'node:child_process'
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'target', 'mutation-binding')
const reports = join(root, 'reports', 'mutation-binding')
const outcomesFile = join(reports, 'outcomes.jsonl')

/** The test files that exercise each file of the binding, fastest first. */
const FIRST = {
  'src/guard.rs': ['guard.test.mjs', 'errors.test.mjs'],
  'src/js.rs': ['errors.test.mjs', 'abort-reasons.test.mjs', 'client.test.mjs', 'bulk.test.mjs'],
  'src/pages.rs': ['pipelines.test.mjs', 'environment-releases.test.mjs', 'hostile-server.test.mjs'],
  'src/diagnostics.rs': ['diagnostics.test.mjs', 'diagnostics-order.test.mjs'],
  'src/options.rs': ['client.test.mjs', 'hostile-input.test.mjs', 'environment-releases.test.mjs', 'network.test.mjs', 'abort-reasons.test.mjs'],
  'src/inputs.rs': ['hostile-input.test.mjs', 'client.test.mjs', 'environment-releases.test.mjs'],
  'src/operations.rs': ['client.test.mjs', 'releases-api.test.mjs', 'pipelines.test.mjs', 'bulk.test.mjs', 'environment-releases.test.mjs'],
  'src/lib.rs': ['client.test.mjs', 'releases-api.test.mjs', 'pipelines.test.mjs', 'bulk.test.mjs', 'environment-releases.test.mjs'],
}
// Test files that check the package around the addon rather than the addon's behaviour
// (its build scripts, the README's prose, other runtimes loading it, bundlers): they
// take minutes and judge no mutant of src/ that the others do not.
const NOT_ORACLES = new Set(['build-scripts.test.mjs', 'bundle.test.mjs', 'runtimes.test.mjs', 'real-service.test.mjs'])

const args = process.argv.slice(2)
const files = []
let budgetMinutes = Infinity
let shard = null
let listOnly = false
let fresh = false
let slot = 1
let reverse = false
let useCoverage = true
let jobs = 1
for (let i = 0; i < args.length; i++) {
  const arg = args[i]
  if (arg === '--file') files.push(args[++i])
  else if (arg === '--budget-minutes') budgetMinutes = Number(args[++i])
  else if (arg === '--shard') shard = /^(\d+)\/(\d+)$/.exec(args[++i] ?? '')
  else if (arg === '--list') listOnly = true
  else if (arg === '--fresh') fresh = true
  else if (arg === '--slot') slot = Number(args[++i])
  else if (arg === '--reverse') reverse = true
  else if (arg === '--no-coverage') useCoverage = false
  else if (arg === '--jobs') jobs = Number(args[++i])
  else fail(`unknown argument ${arg}`)
}
if (!(budgetMinutes > 0)) fail('--budget-minutes must be a positive number')
if (!(Number.isInteger(jobs) && jobs >= 1)) fail('--jobs must be a whole number from 1')
if (!(Number.isInteger(slot) && slot >= 1)) fail('--slot must be a whole number from 1')
const work = join(out, slot === 1 ? 'package' : `package-${slot}`)
const cargoTarget = join(out, slot === 1 ? 'cargo' : `cargo-${slot}`)
if (shard === null && args.includes('--shard')) fail('--shard takes K/N, e.g. 1/4')
for (const file of files) if (!(file in FIRST)) fail(`--file ${file}: not a file of the binding (${Object.keys(FIRST).join(', ')})`)

function fail(message) {
  console.error(`mutation-binding: ${message}`)
  process.exit(2)
}

/** The mutants cargo-mutants lists for the binding's files, with their diffs. */
function listMutants() {
  const globs = (files.length ? files : Object.keys(FIRST)).flatMap((f) => ['-f', f])
  const json = execFileSync('cargo', ['mutants', '--list', '--json', '--diff', '--no-config', ...globs], { cwd: root, encoding: 'utf8', maxBuffer: 256 << 20 })
  let mutants = JSON.parse(json).filter((m) => m.package === 'ld-release')
  if (shard) {
    const [k, n] = [Number(shard[1]), Number(shard[2])]
    if (!(k >= 1 && k <= n)) fail('--shard K/N needs 1 <= K <= N')
    mutants = mutants.filter((_, i) => i % n === k - 1)
  }
  return mutants
}

/** A copy of the package as git knows it, with the project's node_modules linked in. */
function prepareCopy() {
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean)
  for (const file of tracked) {
    if (!existsSync(join(root, file))) continue
    mkdirSync(dirname(join(work, file)), { recursive: true })
    cpSync(join(root, file), join(work, file))
  }
  execFileSync('cp', ['-al', join(root, 'node_modules'), join(work, 'node_modules')])
}

/** Runs `command` in the copy; resolves to { code, timedOut, output } (output cut to its end). */
function run(command, commandArgs, ms, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd: work, detached: true, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const keep = (d) => (output = (output + d).slice(-4000))
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // gone
      }
    }, ms)
    child.on('close', (code) => {
      clearTimeout(timer)
      try {
        process.kill(-child.pid, 'SIGKILL') // what the tests left behind
      } catch {
        // nothing left
      }
      resolve({ code, timedOut, output })
    })
  })
}

const build = () => run('npx', ['napi', 'build', '--platform'], 15 * 60_000, { CARGO_TARGET_DIR: cargoTarget })
const unitTests = (ms) => run('cargo', ['test', '--quiet', '-p', 'ld-release', '--lib'], ms, { CARGO_TARGET_DIR: cargoTarget })
/** Runs the test `files`, `jobs` at a time. */
const runTests = (files, ms) => run(process.execPath, ['--test', '--test-reporter=dot', `--test-concurrency=${jobs}`, ...files.map((f) => join('__test__', f))], ms, { CI: '' })
const testFile = (file, ms) => runTests([file], ms)

/** The unmutated package: built, and each test file's time, which must pass. */
async function baseline(testFiles) {
  console.log('mutation-binding: building the unmutated addon (the first build takes minutes)')
  const built = await build()
  if (built.code !== 0) fail(`the unmutated addon does not build:\n${built.output}`)
  const times = {}
  for (const file of testFiles) {
    const started = Date.now()
    const result = await testFile(file, 20 * 60_000)
    if (result.code !== 0) fail(`${file} fails on the unmutated package:\n${result.output}`)
    times[file] = Date.now() - started
    console.log(`mutation-binding: ${file} passes unmutated in ${(times[file] / 1000).toFixed(1)} s`)
  }
  const started = Date.now()
  const units = await unitTests(20 * 60_000)
  if (units.code !== 0) fail(`the binding's unit tests fail on the unmutated package:\n${units.output}`)
  times.units = Date.now() - started
  console.log(`mutation-binding: the binding's unit tests pass unmutated in ${(times.units / 1000).toFixed(1)} s`)
  return times
}

/** The LLVM tools of the toolchain (`rustup component add llvm-tools`). */
function llvmTool(name) {
  const sysroot = execFileSync('rustc', ['--print', 'sysroot'], { encoding: 'utf8' }).trim()
  const host = /host: (\S+)/.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]
  const tool = join(sysroot, 'lib', 'rustlib', host, 'bin', name)
  if (!existsSync(tool)) fail(`${name} not found: coverage needs \`rustup component add llvm-tools\` (or run with --no-coverage)`)
  return tool
}

/**
 * Which lines of src/ each Node test file runs: the addon built with coverage
 * instrumentation, each test file run with its own profile folder (the child processes
 * and workers a test starts write theirs there too), then each file's line counts from
 * llvm-cov. Returns { [testFile]: { [srcFile]: Set of lines run } , lines: { [srcFile]: Set of
 * lines that have code } }, cached in the build folder for the same sources and tests.
 */
async function coverage(testFiles) {
  const key = createHash('sha256')
  for (const file of execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', 'src', 'crates/core/src', '__test__', 'lib', 'testing', 'index.js', 'Cargo.toml', 'Cargo.lock'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean).sort()) {
    if (existsSync(join(work, file))) key.update(file).update(readFileSync(join(work, file)))
  }
  const digest = key.digest('hex')
  const cacheFile = join(out, 'coverage.json')
  if (existsSync(cacheFile)) {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8'))
    if (cached.digest === digest) {
      console.log('mutation-binding: coverage of these sources and tests is known (target/mutation-binding/coverage.json)')
      return revive(cached.map)
    }
  }
  const [profdata, cov] = [llvmTool('llvm-profdata'), llvmTool('llvm-cov')]
  const dir = join(out, `coverage-${slot}`)
  rmSync(dir, { recursive: true, force: true })
  console.log('mutation-binding: building the addon with coverage instrumentation')
  const built = await run('npx', ['napi', 'build', '--platform'], 20 * 60_000, {
    CARGO_TARGET_DIR: join(out, 'cargo-coverage'),
    RUSTFLAGS: '-C instrument-coverage',
    LLVM_PROFILE_FILE: join(dir, 'build', '%p-%m.profraw'),
  })
  if (built.code !== 0) fail(`the instrumented addon does not build:\n${built.output}`)
  const addon = join(work, readdirSync(work).find((f) => f.endsWith('.node')))
  const map = { lines: {} }
  for (const file of testFiles) {
    const profiles = join(dir, file)
    const started = Date.now()
    const result = await run(process.execPath, ['--test', '--test-reporter=dot', join('__test__', file)], 5 * 60_000, { CI: '', LLVM_PROFILE_FILE: join(profiles, '%p-%m.profraw') })
    if (result.code !== 0 || result.timedOut) {
      // The instrumented debug build is slow: a generated input the release build takes
      // in its stride may outlast the limit. The file then runs for every mutant.
      console.log(`mutation-binding: ${file} fails on the instrumented package${result.timedOut ? ' (time limit)' : ''}: it will run for every mutant\n${result.output.slice(-1000)}`)
      map.everywhere = [...(map.everywhere ?? []), file]
      continue
    }
    map[file] = {}
    const raws = existsSync(profiles) ? readdirSync(profiles).filter((f) => f.endsWith('.profraw')) : []
    if (raws.length > 0) {
      execFileSync(profdata, ['merge', '-sparse', '-o', join(profiles, 'merged.profdata'), ...raws.map((f) => join(profiles, f))])
      const lcov = execFileSync(cov, ['export', '--format=lcov', `--instr-profile=${join(profiles, 'merged.profdata')}`, addon], { encoding: 'utf8', maxBuffer: 512 << 20 })
      let source = null
      for (const line of lcov.split('\n')) {
        if (line.startsWith('SF:')) {
          const path = line.slice(3)
          source = path.startsWith(join(work, 'src') + '/') ? path.slice(work.length + 1) : null
        } else if (source && line.startsWith('DA:')) {
          const [number, count] = line.slice(3).split(',').map(Number)
          ;(map.lines[source] ??= []).push(number)
          if (count > 0) (map[file][source] ??= []).push(number)
        }
      }
    }
    console.log(`mutation-binding: coverage of ${file} (${raws.length} profiles, ${((Date.now() - started) / 1000).toFixed(1)} s)`)
  }
  writeFileSync(cacheFile, JSON.stringify({ digest, map }))
  rmSync(dir, { recursive: true, force: true })
  return revive(map)
}

/** The coverage map with its line lists made sets. */
function revive(map) {
  const { everywhere = [], ...rest } = map
  return { everywhere, ...Object.fromEntries(Object.entries(rest).map(([k, bySource]) => [k, Object.fromEntries(Object.entries(bySource).map(([f, lines]) => [f, new Set(lines)]))])) }
}

/** The lines of `file` of the binding as it is unmutated (read once). */
const sources = new Map()
function sourceLines(file) {
  if (!sources.has(file)) sources.set(file, readFileSync(join(root, file), 'utf8').split('\n'))
  return sources.get(file)
}

/**
 * The test files that run a line of `mutant` (null when no line of it has code that
 * coverage sees, as in some macro expansions, or when it is in a `const fn`: then every
 * file may judge it).
 */
function covering(mutant, map, testFiles) {
  // A `const fn` may run while the addon is compiled (for a constant), where coverage
  // does not see it: every file may judge its mutants.
  if (mutant.function) {
    const source = sourceLines(mutant.file)
    const head = source.slice(mutant.function.span.start.line - 1, mutant.function.span.end.line).join('\n')
    if (/\bconst\s+fn\b/.test(head.split('{')[0])) return null
  }
  const lines = []
  for (let n = mutant.span.start.line; n <= mutant.span.end.line; n++) lines.push(n)
  const code = map.lines[mutant.file] ?? new Set()
  if (!lines.some((n) => code.has(n))) return null
  return testFiles.filter((f) => map.everywhere.includes(f) || lines.some((n) => map[f]?.[mutant.file]?.has(n)))
}

/** Plants `mutant` in the copy: its diff, with the file's own name on both sides. */
function plant(mutant) {
  const patch = mutant.diff.replace(/^\+\+\+ .*$/m, `+++ ${mutant.file}`)
  execFileSync('patch', ['--quiet', '-p0', '--forward', '--no-backup-if-mismatch'], { cwd: work, input: patch })
}

async function main() {
  const mutants = listMutants()
  if (listOnly) {
    for (const m of mutants) console.log(m.name)
    return 0
  }
  mkdirSync(reports, { recursive: true })
  if (fresh) rmSync(outcomesFile, { force: true })
  const todo = mutants.filter((m) => !judged().has(m.name))
  if (reverse) todo.reverse()
  console.log(`mutation-binding: ${mutants.length} mutants, ${mutants.length - todo.length} already judged, ${todo.length} to run`)
  if (todo.length === 0) return summary(mutants)
  const deadline = Date.now() + budgetMinutes * 60_000
  prepareCopy()
  const testFiles = readdirSync(join(work, '__test__')).filter((f) => f.endsWith('.test.mjs') && !NOT_ORACLES.has(f))
  const map = useCoverage ? await coverage(testFiles) : null
  const times = await baseline(testFiles)
  for (const [index, mutant] of todo.entries()) {
    if (Date.now() > deadline) {
      console.log(`mutation-binding: time budget reached; ${todo.length - index} mutants not run`)
      break
    }
    if (judged().has(mutant.name)) continue // by a run in another slot
    const original = readFileSync(join(work, mutant.file))
    const started = Date.now()
    let outcome
    let by = null
    let uncovered = false
    try {
      plant(mutant)
      const built = await build()
      if (built.code !== 0) outcome = 'unviable'
      else {
        // Only the files that run a line of the mutant can tell it apart (all of them
        // when coverage is off or cannot see the lines).
        const runners = (map && covering(mutant, map, testFiles)) ?? testFiles
        const first = FIRST[mutant.file].filter((f) => runners.includes(f))
        const order = [...first, ...runners.filter((f) => !first.includes(f)).sort((a, b) => times[a] - times[b])]
        if (order.length === 0) uncovered = true
        // The first files one at a time, stopping at the first that fails; the rest
        // (which seldom fail) `jobs` at a time, and when they fail, one at a time again,
        // so that a failure the load alone caused is not taken for a catch.
        const judge = async (files) => {
          for (const file of files) {
            const result = await testFile(file, 2 * times[file] + 30_000)
            if (result.timedOut || result.code !== 0) return [result.timedOut ? 'timeout' : 'caught', file]
          }
          return ['missed', null]
        }
        const rest = order.slice(first.length)
        ;[outcome, by] = await judge(first)
        if (outcome === 'missed' && rest.length > 0) {
          const together = jobs > 1 && rest.length > 1 ? await runTests(rest, 2 * rest.reduce((sum, f) => sum + times[f], 0) + 60_000) : null
          if (!together || together.timedOut || together.code !== 0) [outcome, by] = await judge(rest)
        }
        if (outcome === 'missed') {
          const result = await unitTests(2 * times.units + 120_000)
          if (result.timedOut || result.code !== 0) [outcome, by] = [result.timedOut ? 'timeout' : 'caught', 'cargo test -p ld-release --lib']
        }
      }
    } finally {
      writeFileSync(join(work, mutant.file), original)
    }
    const seconds = Math.round((Date.now() - started) / 1000)
    appendFileSync(outcomesFile, JSON.stringify({ name: mutant.name, outcome, by, seconds, ...(uncovered && { uncovered }) }) + '\n')
    console.log(`mutation-binding: [${index + 1}/${todo.length}] ${outcome}${by ? ` by ${by}` : ''}${uncovered ? ' (no Node test runs its lines)' : ''} (${seconds} s): ${mutant.name}`)
  }
  return summary(mutants)
}

/** The names of the mutants judged so far (by any run). */
function judged() {
  return new Set(existsSync(outcomesFile) ? readFileSync(outcomesFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).name) : [])
}

/** Prints the counts of every listed mutant judged so far; 1 when one was missed. */
function summary(mutants) {
  const listed = new Set(mutants.map((m) => m.name))
  // One outcome per mutant (two runs may both have judged the one they met at).
  const byName = new Map(readFileSync(outcomesFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((o) => [o.name, o]))
  const judged = [...byName.values()].filter((o) => listed.has(o.name))
  const count = (kind) => judged.filter((o) => o.outcome === kind).length
  const [caught, timeout, unviable, missed] = ['caught', 'timeout', 'unviable', 'missed'].map(count)
  const viable = caught + timeout + missed
  const score = viable ? ((100 * (caught + timeout)) / viable).toFixed(1) : '-'
  console.log(`mutation-binding: ${mutants.length} listed, ${judged.length} judged: caught ${caught}, timeout ${timeout}, unviable ${unviable}, missed ${missed} (score ${score}% of viable)`)
  for (const o of judged.filter((o) => o.outcome === 'missed')) console.log(`  missed: ${o.name}${o.uncovered ? ' (no Node test runs its lines)' : ''}`)
  return missed > 0 ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (error) => fail(error.stack),
)
