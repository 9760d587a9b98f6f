// Node test files cut into one file per top-level `test()` for Stryker (see
// stryker.config.mjs). The tap runner treats a test file as one test: with per-test
// coverage, a mutant runs the files that reach it, whole. A mutant of the CLI that
// every test lets through would then cost a run of all of cli.test.mjs (a minute and a
// half) to judge; cut into its tests, it costs the few that reach its line.
//
// Each piece is a small module in `.stryker-split/` that swaps node:test's `test` for
// one that keeps only the N-th top-level call, then imports the original file. The
// other calls declare nothing, so a piece runs one test (with the file's hooks and
// `describe` blocks, which are left whole). A file with fewer than two top-level tests
// is used as it is.
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join, relative } from 'node:path'

const PICK = 'LD_STRYKER_PICK_TEST'

/** The module text of piece `pick` of `file` (`pick` -1 counts the calls, runs none). */
function piece(file, pick, from) {
  const target = relative(from, file).split('\\').join('/')
  return `// Test ${pick} of ${basename(file)} alone (made by scripts/stryker-split.mjs).
import { createRequire, syncBuiltinESMExports } from 'node:module'
const nodeTest = createRequire(import.meta.url)('node:test')
const original = nodeTest.test
const pick = Number(process.env.${PICK} ?? ${pick})
let calls = 0
nodeTest.test = Object.assign((...args) => (calls++ === pick ? original(...args) : undefined), original)
syncBuiltinESMExports()
if (pick < 0) process.on('exit', () => console.log(\`tests: \${calls}\`))
await import('./${target.startsWith('.') ? target : `./${target}`}')
`
}

/**
 * Writes the pieces of `files` (paths relative to `root`) under `root/.stryker-split/`
 * and returns the test files to give Stryker, in the order given: each file's pieces,
 * or the file itself.
 */
export function splitTests(root, files) {
  const dir = join(root, '.stryker-split')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const out = []
  for (const file of files) {
    const name = basename(file, '.test.mjs')
    const counter = join(dir, `${name}.count.mjs`)
    writeFileSync(counter, piece(join(root, file), -1, dir))
    // Loading the file with every test dropped declares nothing and runs nothing.
    const printed = execFileSync(process.execPath, [counter], { cwd: root, encoding: 'utf8', env: { ...process.env, [PICK]: '-1' } })
    rmSync(counter)
    const count = Number(/tests: (\d+)/.exec(printed)?.[1] ?? 0)
    if (count < 2) {
      out.push(file)
      continue
    }
    for (let i = 0; i < count; i++) {
      const path = join(dir, `${name}.${String(i).padStart(3, '0')}.test.mjs`)
      writeFileSync(path, piece(join(root, file), i, dir))
      out.push(relative(root, path))
    }
  }
  return out
}
