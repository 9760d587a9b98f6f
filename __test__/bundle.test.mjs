// Bundling a script that uses ld-release with esbuild, the three ways the README shows, each
// bundle then run with node against the fake LaunchDarkly in this process. The commands are
// the README's, checked to be there word for word.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TOKEN, fake, sampleRelease } from './helpers.mjs'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const CHILD_TIMEOUT_MS = 90_000
const TEST_TIMEOUT_MS = 300_000

/** esbuild's binary for this platform, from its platform package (with or without install scripts). */
const ESBUILD = join(ROOT, 'node_modules', '@esbuild', `${process.platform}-${process.arch}`, ...(process.platform === 'win32' ? ['esbuild.exe'] : ['bin', 'esbuild']))

const BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
const RECIPES = {
  cjs: ['app.mjs', '--bundle', '--platform=node', '--format=cjs', '--outfile=dist/app.cjs', '--loader:.node=copy'],
  esm: ['app.mjs', '--bundle', '--platform=node', '--format=esm', '--outfile=dist/app.mjs', '--loader:.node=copy', `--banner:js=${BANNER}`],
  external: ['app.mjs', '--bundle', '--platform=node', '--format=cjs', '--outfile=dist/app.cjs', '--external:ld-release'],
}

/** The script being bundled: completes phase 0 of web/<argv[2]>, token and URL from the environment. */
const APP = `import { completePhase } from 'ld-release'

completePhase('web', process.argv[2], 0).then(
  (release) => console.log(JSON.stringify({ version: release._version, complete: release.phases.map((p) => p.complete) })),
  (error) => {
    console.error(error)
    process.exitCode = 1
  },
)
`

/** A command as the README writes it (a value with spaces in double quotes). */
const shellLine = (args) =>
  ['npx esbuild', ...args.map((a) => (a.includes(' ') ? a.replace(/=(.*)$/, '="$1"') : a))].join(' ')

/** Runs a command; resolves to { code, signal, stdout, stderr } and never rejects. */
function run(file, args, { cwd, env = {} }) {
  const clean = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(LD_|LAUNCHDARKLY_|NODE_OPTIONS$|NODE_TEST_CONTEXT$|(HTTPS?|ALL|NO)_PROXY$)/i.test(k)) clean[k] = v
  }
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd, env: { ...clean, ...env }, timeout: CHILD_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', (error) => resolve({ code: null, signal: null, stdout, stderr: `${stderr}\nspawn failed: ${error.message}` }))
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

/** A temporary directory, removed after the test. */
function tempDir(t, name) {
  const dir = mkdtempSync(join(tmpdir(), `ld-release-${name}-`))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A project with app.mjs that depends on ld-release (a link to this checkout). */
function project(t) {
  const dir = mkdtempSync(join(tmpdir(), 'ld-release-bundle-'))
  const link = join(dir, 'node_modules', 'ld-release')
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(ROOT, link, 'junction')
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bundle-app', private: true }))
  writeFileSync(join(dir, 'app.mjs'), APP)
  t.after(() => {
    unlinkSync(link) // the link first: never recurse into this checkout
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

async function esbuild(dir, args) {
  const r = await run(ESBUILD, args, { cwd: dir })
  assert.equal(r.code, 0, `esbuild ${args.join(' ')}: exit ${r.code} (signal ${r.signal})\n${r.stderr}`)
  return r
}

/** Runs a bundle with node against `server`, completing phase 0 of web/<flagKey>. */
const runBundle = (server, file, flagKey, cwd) =>
  run(process.execPath, [file, flagKey], { cwd, env: { LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: server.url } })

/** Checks that the bundle completed the phase: its output, its reads and the one PATCH the fake got. */
function assertCompleted(server, r, flagKey) {
  assert.equal(r.code, 0, `exit ${r.code} (signal ${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  assert.deepEqual(JSON.parse(r.stdout), { version: 2, complete: [true, false, false] })
  assert.equal(server.getRelease('web', flagKey).phases[0].complete, true)
  assert.deepEqual(
    server.requests.map((r) => r.method),
    ['GET', 'GET', 'PATCH'],
  )
  const patch = server.requests[2]
  assert.equal(`${patch.method} ${patch.path}`, `PATCH /api/v2/flags/web/${flagKey}/release`)
  assert.equal(patch.headers.authorization, TOKEN)
  assert.deepEqual(patch.json, [{ op: 'replace', path: '/phases/0/complete', value: true }])
}

const addons = (dir) => readdirSync(dir).filter((f) => f.endsWith('.node'))

test('esbuild bundles of a script using ld-release run with node', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (!existsSync(ESBUILD)) {
    const reason = `esbuild is not installed for ${process.platform}-${process.arch} (${ESBUILD}; npm ci installs it)`
    if (process.env.CI) assert.fail(reason)
    return t.skip(reason)
  }
  const releases = ['cjs', 'esm', 'external'].map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() }))

  await t.test('the README shows these commands', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    for (const args of Object.values(RECIPES)) assert.ok(readme.includes(shellLine(args)), `README.md lacks:\n${shellLine(args)}`)
  })

  await t.test("esbuild's defaults fail on the addon: no loader for .node files", async (t) => {
    const dir = project(t)
    const r = await run(ESBUILD, ['app.mjs', '--bundle', '--platform=node', '--outfile=dist/app.cjs'], { cwd: dir })
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /No loader is configured for "\.node" files/)
  })

  await t.test('CommonJS with --loader:.node=copy: the addon beside the bundle, no node_modules needed', async (t) => {
    const dir = project(t)
    await esbuild(dir, RECIPES.cjs)
    assert.equal(addons(join(dir, 'dist')).length, 1, `one addon in dist: ${readdirSync(join(dir, 'dist'))}`)
    // Deployed alone, away from node_modules.
    const deploy = tempDir(t, 'deploy')
    cpSync(join(dir, 'dist'), deploy, { recursive: true })
    const server = await fake(t, { releases })
    assertCompleted(server, await runBundle(server, join(deploy, 'app.cjs'), 'cjs', deploy), 'cjs')
  })

  await t.test('ESM needs the createRequire banner; with it, it runs without node_modules', async (t) => {
    const dir = project(t)
    const bare = RECIPES.esm.filter((a) => !a.startsWith('--banner:'))
    await esbuild(dir, bare)
    const server = await fake(t, { releases })
    const without = await runBundle(server, join(dir, 'dist', 'app.mjs'), 'esm', dir)
    assert.notEqual(without.code, 0)
    assert.match(without.stderr, /Dynamic require of "\w+" is not supported/)
    assert.equal(server.requests.length, 0)

    rmSync(join(dir, 'dist'), { recursive: true })
    await esbuild(dir, RECIPES.esm)
    assert.equal(addons(join(dir, 'dist')).length, 1)
    const deploy = tempDir(t, 'deploy')
    cpSync(join(dir, 'dist'), deploy, { recursive: true })
    assertCompleted(server, await runBundle(server, join(deploy, 'app.mjs'), 'esm', deploy), 'esm')
  })

  await t.test('--external:ld-release: the bundle leaves the package to node_modules', async (t) => {
    const dir = project(t)
    await esbuild(dir, RECIPES.external)
    assert.deepEqual(addons(join(dir, 'dist')), [])
    assert.doesNotMatch(readFileSync(join(dir, 'dist', 'app.cjs'), 'utf8'), /Cannot find native binding/, 'the loader is not bundled')
    const server = await fake(t, { releases })
    // Away from node_modules it cannot run...
    const deploy = tempDir(t, 'deploy')
    cpSync(join(dir, 'dist'), deploy, { recursive: true })
    const alone = await runBundle(server, join(deploy, 'app.cjs'), 'external', deploy)
    assert.notEqual(alone.code, 0)
    assert.match(alone.stderr, /Cannot find module 'ld-release'/)
    assert.equal(server.requests.length, 0)
    // ...and beside it, it does.
    assertCompleted(server, await runBundle(server, join(dir, 'dist', 'app.cjs'), 'external', dir), 'external')
  })
})
