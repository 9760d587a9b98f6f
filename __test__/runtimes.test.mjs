// ld-release under Bun and Deno, the runtimes installed from their npm packages (dev
// dependencies): child scripts in a project that depends on ld-release use it against the
// fake LaunchDarkly running in this process, and print what they got.
//
// A runtime with no npm package for this platform (Deno on musl) is skipped. A runtime that
// has one but is not installed fails under CI and is skipped with the reason elsewhere.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TOKEN, fake, sampleRelease } from './helpers.mjs'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const NODE_MODULES = join(ROOT, 'node_modules')
/** Every child is killed after this long; nothing here should take more than a few seconds. */
const CHILD_TIMEOUT_MS = 90_000
const TEST_TIMEOUT_MS = 300_000
const EXE = process.platform === 'win32' ? '.exe' : ''

/** 'glibc' or 'musl' on Linux, undefined elsewhere: the `libc` field npm matches. */
function currentLibc() {
  if (process.platform !== 'linux') return undefined
  return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl'
}

/**
 * The optional platform packages of `wrapper` that npm installs here, read from the lock
 * file's `os`, `cpu` and `libc` fields.
 */
function platformPackages(wrapper) {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'))
  const entry = lock.packages[`node_modules/${wrapper}`]
  assert.ok(entry, `${wrapper} is not in package-lock.json: it must be a dev dependency`)
  const libc = currentLibc()
  return Object.keys(entry.optionalDependencies ?? {}).filter((name) => {
    const pkg = lock.packages[`node_modules/${name}`]
    return (
      pkg &&
      (!pkg.os || pkg.os.includes(process.platform)) &&
      (!pkg.cpu || pkg.cpu.includes(process.arch)) &&
      (!pkg.libc || pkg.libc.includes(libc))
    )
  })
}

/**
 * Where each runtime's executable is: in its platform package (as `npm ci --ignore-scripts`
 * leaves it) or where its wrapper's postinstall script puts it, and how to run a script.
 */
const RUNTIMES = {
  bun: {
    executables: (packages) => [...packages.map((p) => join(NODE_MODULES, p, 'bin', `bun${EXE}`)), join(NODE_MODULES, 'bun', 'bin', 'bun.exe')],
    // --no-install: never fetch a missing package, use node_modules only.
    args: (script, rest) => ['--no-install', script, ...rest],
  },
  deno: {
    executables: (packages) => [...packages.map((p) => join(NODE_MODULES, p, `deno${EXE}`)), join(NODE_MODULES, 'deno', `deno${EXE}`)],
    // --cached-only: fail rather than download anything (DENO_DIR starts empty).
    args: (script, rest) => ['run', '-A', '--cached-only', script, ...rest],
  },
}

/** `{ path, version }` of the runtime, `{ skip }` when this platform has none, or `{ missing }`. */
function findRuntime(name, env) {
  const platform = `${process.platform}-${process.arch}${currentLibc() ? `-${currentLibc()}` : ''}`
  const packages = platformPackages(name)
  if (packages.length === 0) return { skip: `${name} has no npm package for ${platform}` }
  const tried = []
  for (const file of RUNTIMES[name].executables(packages)) {
    if (!existsSync(file)) {
      tried.push(`${file}: absent`)
      continue
    }
    const r = spawnSync(file, ['--version'], { env, encoding: 'utf8', timeout: CHILD_TIMEOUT_MS })
    if (r.status === 0) return { path: file, version: r.stdout.trim().split('\n')[0] }
    tried.push(`${file}: ${r.error?.message ?? `exit ${r.status}, ${r.stderr.trim()}`}`)
  }
  return { missing: `${name} (${packages.join(', ')}) is not installed or does not run (npm ci installs it): ${tried.join('; ')}` }
}

/** The script the children run: one scenario per call, one JSON line on stdout. */
const SMOKE = `
import process from 'node:process'
import { ReleaseClient, completePhase } from 'ld-release'

const print = (value) => console.log(JSON.stringify(value))
const describe = (e) => ({ isError: e instanceof Error, name: e?.name, code: e?.code, status: e?.status, message: e?.message })
// The token and the URL come from LD_ACCESS_TOKEN and LD_BASE_URI.
const client = new ReleaseClient({ maxRetries: 0, timeoutMs: 60000 })

const scenarios = {
  async complete() {
    const release = await completePhase('web', 'checkout', 0)
    print({ name: release.name, version: release._version, complete: release.phases.map((p) => p.complete) })
  },
  async notFound() {
    try {
      print({ resolved: await client.completePhase('web', 'missing', 0) })
    } catch (e) {
      print(describe(e))
    }
  },
  async abort() {
    // Aborts when the parent writes a line, once the fake holds the request.
    const controller = new AbortController()
    const reason = new Error('stopped by the script')
    process.stdin.once('data', () => controller.abort(reason))
    try {
      print({ resolved: await client.completePhase('web', 'checkout', 0, { signal: controller.signal }) })
    } catch (e) {
      print({ ...describe(e), causeIsReason: e?.cause === reason })
    } finally {
      process.stdin.destroy()
    }
  },
  async bulk() {
    const progress = []
    const items = [
      { projectKey: 'web', flagKey: 'checkout', phase: 0 },
      { projectKey: 'web', flagKey: 'missing', phase: 0 },
      { projectKey: 'web', flagKey: 'search', phase: 1 },
      { projectKey: 'web', flagKey: 'search', phase: -1 },
    ]
    const results = await client.completePhases(items, { concurrency: 2, onProgress: (done, total) => progress.push([done, total]) })
    // Progress calls come through the event loop: wait (bounded) for the last one.
    for (let i = 0; i < 500 && progress.at(-1)?.[0] !== items.length; i++) await new Promise((r) => setTimeout(r, 10))
    print({
      results: results.map((r) => (r.ok ? { ok: true, version: r.release._version, complete: r.release.phases.map((p) => p.complete) } : { ok: false, ...describe(r.error) })),
      progress,
    })
  },
}

await scenarios[process.argv[2]]()
`

/** A project depending on ld-release (a link to this checkout), with its own HOME and caches. */
function project(t, name) {
  const dir = mkdtempSync(join(tmpdir(), `ld-release-${name}-`))
  const link = join(dir, 'node_modules', 'ld-release')
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(ROOT, link, 'junction')
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `${name}-smoke`, private: true, type: 'module' }))
  writeFileSync(join(dir, 'smoke.mjs'), SMOKE)
  for (const sub of ['home', 'cache', 'deno-dir', 'bun-cache']) mkdirSync(join(dir, sub))
  t.after(() => {
    unlinkSync(link) // the link first: never recurse into this checkout
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/** The environment of a child: no LaunchDarkly or proxy settings from outside, caches in `dir`. */
function childEnv(dir, extra = {}) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(LD_|LAUNCHDARKLY_|NODE_OPTIONS$|NODE_TEST_CONTEXT$|(HTTPS?|ALL|NO)_PROXY$|FORCE_COLOR$|NO_COLOR$)/i.test(k)) env[k] = v
  }
  return {
    ...env,
    HOME: join(dir, 'home'),
    XDG_CACHE_HOME: join(dir, 'cache'),
    DENO_DIR: join(dir, 'deno-dir'),
    DENO_NO_UPDATE_CHECK: '1',
    BUN_INSTALL_CACHE_DIR: join(dir, 'bun-cache'),
    DO_NOT_TRACK: '1',
    NO_COLOR: '1',
    ...extra,
  }
}

/** Starts a child; `done` resolves to { code, signal, stdout, stderr } and never rejects. */
function start(file, args, { cwd, env }) {
  const child = spawn(file, args, { cwd, env, timeout: CHILD_TIMEOUT_MS, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  child.stdin.on('error', () => {}) // a child that exited before reading
  const done = new Promise((resolve) => {
    child.on('error', (error) => resolve({ code: null, signal: null, stdout, stderr: `${stderr}\nspawn failed: ${error.message}` }))
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, done }
}

/** The one JSON line a scenario printed, after checking the child exited cleanly. */
function printed(r) {
  assert.equal(r.code, 0, `exit ${r.code} (signal ${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  const lines = r.stdout.trim().split('\n')
  assert.equal(lines.length, 1, `one line expected:\n${r.stdout}\nstderr: ${r.stderr}`)
  return JSON.parse(lines[0])
}

const patches = (server) => server.requests.filter((r) => r.method === 'PATCH')

for (const name of Object.keys(RUNTIMES)) {
  test(`ld-release under ${name}`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const dir = project(t, name)
    const found = findRuntime(name, childEnv(dir))
    if (found.skip) return t.skip(found.skip)
    if (found.missing) {
      if (process.env.CI) assert.fail(found.missing)
      return t.skip(found.missing)
    }
    t.diagnostic(`${name} --version: ${found.version} (${found.path})`)
    const releases = ['checkout', 'search'].map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() }))
    const run = (server, args, options = {}) =>
      start(found.path, RUNTIMES[name].args(args[0], args.slice(1)), {
        cwd: dir,
        env: childEnv(dir, options.env ?? { LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: server.url }),
      })

    await t.test('completePhase resolves to the Release, after one PATCH', async (t) => {
      const server = await fake(t, { releases })
      const { done, child } = run(server, ['smoke.mjs', 'complete'])
      child.stdin.end()
      const out = printed(await done)
      assert.deepEqual(out, { name: 'Standard rollout', version: 2, complete: [true, false, false] })
      assert.equal(server.getRelease('web', 'checkout').phases[0].complete, true)
      const [patch, ...more] = patches(server)
      assert.equal(more.length, 0)
      assert.equal(patch.path, '/api/v2/flags/web/checkout/release')
      assert.equal(patch.headers.authorization, TOKEN)
      assert.equal(patch.headers['ld-api-version'], 'beta')
      assert.deepEqual(patch.json, [{ op: 'replace', path: '/phases/0/complete', value: true }])
    })

    await t.test('a 404 rejects with a LaunchDarklyError, code ERR_LD_NOT_FOUND', async (t) => {
      const server = await fake(t, { releases })
      const { done, child } = run(server, ['smoke.mjs', 'notFound'])
      child.stdin.end()
      const out = printed(await done)
      assert.equal(out.isError, true)
      assert.equal(out.name, 'LaunchDarklyError')
      assert.equal(out.code, 'ERR_LD_NOT_FOUND')
      assert.equal(out.status, 404)
      assert.ok(!out.message.includes(TOKEN), out.message)
      // The release is read first: it does not exist, so nothing is written.
      assert.deepEqual(
        server.requests.map((r) => `${r.method} ${r.path}`),
        ['GET /api/v2/flags/web/missing/release'],
      )
    })

    await t.test('aborting the signal rejects with an AbortError and drops the request in flight', async (t) => {
      const server = await fake(t, { releases })
      server.injectFault({ match: { method: 'PATCH' }, stallMs: CHILD_TIMEOUT_MS * 2 })
      const { done, child } = run(server, ['smoke.mjs', 'abort'])
      let exited = false
      done.then(() => (exited = true))
      // Bounded: until the fake holds the PATCH, the child exits, or the child's timeout.
      for (let i = 0; i < CHILD_TIMEOUT_MS / 20 && !exited && patches(server).length === 0; i++) await new Promise((r) => setTimeout(r, 20))
      if (patches(server).length !== 1) assert.fail(`the PATCH never arrived:\n${(await done).stderr}`)
      child.stdin.end('abort\n')
      const out = printed(await done)
      assert.equal(out.isError, true)
      assert.equal(out.name, 'AbortError')
      assert.equal(out.code, 'ABORT_ERR')
      assert.equal(out.causeIsReason, true)
      assert.equal(patches(server).length, 1)
      assert.equal(server.getRelease('web', 'checkout')._version, 1)
    })

    await t.test('completePhases: one result per item in input order, and progress', async (t) => {
      const server = await fake(t, { releases })
      const { done, child } = run(server, ['smoke.mjs', 'bulk'])
      child.stdin.end()
      const out = printed(await done)
      assert.deepEqual(
        out.results.map((r) => (r.ok ? r.complete : r.code)),
        [[true, false, false], 'ERR_LD_NOT_FOUND', [false, true, false], 'ERR_LD_INVALID_ARGUMENT'],
      )
      assert.equal(out.results[1].name, 'LaunchDarklyError')
      assert.equal(out.results[1].status, 404)
      assert.match(out.results[3].message, /^items\[3\]\.phase/)
      // The invalid item is never sent; the missing one is read, not written.
      assert.deepEqual(
        patches(server).map((r) => r.path).sort(),
        ['/api/v2/flags/web/checkout/release', '/api/v2/flags/web/search/release'],
      )
      assert.ok(server.requests.some((r) => r.method === 'GET' && r.path === '/api/v2/flags/web/missing/release'))
      assert.equal(server.getRelease('web', 'search').phases[1].complete, true)
      assert.deepEqual(out.progress.at(-1), [4, 4])
      const counts = out.progress.map(([d]) => d)
      assert.deepEqual(counts, [...counts].sort((a, b) => a - b))
      assert.ok(out.progress.every(([, total]) => total === 4))
    })

    await t.test('the CLI: status draws the pipeline; a 404 exits 1 with the code', async (t) => {
      const server = await fake(t, { releases })
      const bin = join('node_modules', 'ld-release', 'bin', 'ld-release.js')
      const auth = ['--access-token', server.apiKey, '--base-uri', server.url]
      const status = run(server, [bin, 'status', 'web', 'checkout', ...auth], { env: {} })
      status.child.stdin.end()
      const r = await status.done
      assert.equal(r.code, 0, r.stderr)
      const lines = r.stdout.trimEnd().split('\n')
      assert.equal(lines[0], 'Standard rollout (standard-rollout) · version 1')
      assert.match(lines[1], /^ {2}0 ● Testing {5}started .* · test$/)
      assert.match(lines[2], /^ {2}1 ○ Staging {5}waiting · staging$/)
      assert.match(lines[3], /^ {2}2 ○ Production {2}waiting · production$/)
      assert.equal(lines.length, 4)
      assert.equal(server.requests.length, 1)
      assert.equal(server.requests[0].method, 'GET')
      assert.equal(server.requests[0].headers.authorization, TOKEN)

      const missing = run(server, [bin, 'status', 'web', 'missing', ...auth], { env: {} })
      missing.child.stdin.end()
      const m = await missing.done
      assert.equal(m.code, 1, `stdout: ${m.stdout}\nstderr: ${m.stderr}`)
      assert.equal(m.stdout, '')
      assert.match(m.stderr, /^error: .*\(code ERR_LD_NOT_FOUND, HTTP 404\)/)
      assert.ok(!(r.stdout + r.stderr + m.stderr).includes(TOKEN))
      assert.equal(server.requests.length, 2)
    })
  })
}
