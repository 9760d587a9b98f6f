// The Node test suites: `node --test` with every `__test__/*.test.mjs` file named.
// Node 20's `--test` takes neither a folder nor a glob, and Node 22 and later take no
// folder, so the files are listed here, the same on every Node version and every shell
// (cmd.exe expands no globs). Arguments are passed on to `node --test` (e.g.
// `npm run test:js -- --test-name-pattern=fake`). Run with another Node binary to test
// under it: `/path/to/node scripts/test-js.mjs`.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const files = readdirSync(join(root, '__test__'))
  .filter((name) => name.endsWith('.test.mjs'))
  .sort()
  .map((name) => join('__test__', name))
if (files.length === 0) throw new Error('no __test__/*.test.mjs files')
const { status, signal, error } = spawnSync(process.execPath, ['--test', ...process.argv.slice(2), ...files], { cwd: root, stdio: 'inherit' })
if (error) throw error
process.exitCode = status ?? (signal ? 1 : 0)
