// Node test files cut into one file per top-level `test()` for Stryker (see
// stryker.config.mjs). The tap runner treats a test file as one test: with per-test
// coverage, a mutant runs the files that reach it, whole. A mutant of the CLI that
// every test lets through would then cost a run of all of cli.test.mjs (a minute and a
// half) to judge; cut into its tests, it costs the few that reach its line.
//
// Each piece is a small module in `.stryker-split/` that swaps node:test's `test` for
// one that keeps only the top-level call of one title (and occurrence), then imports
// the original file. The other calls declare nothing, so a piece runs one test (with the file's hooks and
// `describe` blocks, which are left whole). A file with fewer than two top-level tests
// is used as it is.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join, relative } from 'node:path'

/**
 * The module text of the piece of `file` that keeps the top-level test named `title`
 * (its `occurrence`-th of that name), with `source`, a digest of that test's own text:
 * Stryker's incremental mode tells a changed test by the text of its file, so the
 * piece's text changes when the test's does. Without `title`, the module lists the
 * file's tests (one JSON line each) and runs none.
 */
function piece(file, from, test) {
  const target = relative(from, file).split('\\').join('/')
  const wanted = test ? JSON.stringify([test.title, test.occurrence]) : 'null'
  return `// ${test ? `The test ${JSON.stringify(test.title)} (text ${test.source})` : 'The tests'} of ${basename(file)} alone (made by scripts/stryker-split.mjs).
import { createHash } from 'node:crypto'
import { createRequire, syncBuiltinESMExports } from 'node:module'
const nodeTest = createRequire(import.meta.url)('node:test')
const original = nodeTest.test
const wanted = ${wanted}
const seen = new Map()
nodeTest.test = Object.assign((...args) => {
  const title = typeof args[0] === 'string' ? args[0] : String(args.at(-1)?.name ?? '')
  const occurrence = seen.get(title) ?? 0
  seen.set(title, occurrence + 1)
  if (wanted === null) {
    const source = createHash('sha256').update(String(args.at(-1))).digest('hex').slice(0, 16)
    process.stdout.write(\`\${JSON.stringify({ title, occurrence, source })}\\n\`)
    return undefined
  }
  return title === wanted[0] && occurrence === wanted[1] ? original(...args) : undefined
}, original)
syncBuiltinESMExports()
await import('./${target.startsWith('.') ? target : `./${target}`}')
`
}

/**
 * Writes the pieces of `files` (paths relative to `root`) under `root/.stryker-split/`
 * and returns the test files to give Stryker, in the order given: each file's pieces,
 * or the file itself. A piece is named after its test's title, not its place, so that
 * a test added or moved leaves the other pieces' names (Stryker's test ids) alone.
 */
export function splitTests(root, files) {
  const dir = join(root, '.stryker-split')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const out = []
  for (const file of files) {
    const name = basename(file, '.test.mjs')
    const lister = join(dir, `${name}.list.mjs`)
    writeFileSync(lister, piece(join(root, file), dir, null))
    // Loading the file with every test dropped declares nothing and runs nothing.
    const printed = execFileSync(process.execPath, [lister], { cwd: root, encoding: 'utf8' })
    rmSync(lister)
    const tests = printed.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
    if (tests.length < 2) {
      out.push(file)
      continue
    }
    for (const test of tests) {
      const id = createHash('sha256').update(`${test.title}\0${test.occurrence}`).digest('hex').slice(0, 12)
      const path = join(dir, `${name}.${id}.test.mjs`)
      writeFileSync(path, piece(join(root, file), dir, test))
      out.push(relative(root, path))
    }
  }
  return out
}
