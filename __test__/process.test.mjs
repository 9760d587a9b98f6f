// The addon in a worker thread and in a child process that must exit after its last call.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'

import { ADDON_PATH, ENV_VARS, TOKEN, deadPort, fake, ld } from './helpers.mjs'

const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads')
const ld = require(workerData.addon)
const client = new ld.ReleaseClient({ apiKey: workerData.apiKey, baseUrl: workerData.url, maxRetries: 0, timeoutMs: 5000 })
client.completePhase('web', 'checkout', workerData.phase).then(
  (release) => parentPort.postMessage({ ok: true, release }),
  (error) => parentPort.postMessage({ ok: false, name: error.name, code: error.code, message: error.message }),
)
`

/** Starts a worker running WORKER_CODE; it is terminated after the test if still running. */
function runWorker(t, workerData) {
  const worker = new Worker(WORKER_CODE, { eval: true, workerData: { addon: ADDON_PATH, ...workerData } })
  t.after(() => worker.terminate())
  const message = once(worker, 'message').then(([m]) => m)
  const exit = once(worker, 'exit').then(([code]) => code)
  return { worker, message, exit }
}

test('a worker thread loads the addon and completes a phase against a fake in the main thread', { timeout: 10_000 }, async (t) => {
  const server = await fake(t)
  const { message, exit } = runWorker(t, { apiKey: server.apiKey, url: server.url, phase: 1 })
  const result = await message
  assert.equal(result.ok, true, JSON.stringify(result))
  assert.equal(result.release.phases[1].complete, true)
  assert.deepEqual(result.release, server.getRelease('web', 'checkout'))
  // The release, its pipeline, the PATCH.
  assert.equal(server.requests.length, 3)
  assert.equal(server.requests[2].body, '[{"op":"replace","path":"/phases/1/complete","value":true}]')
  assert.equal(await exit, 0, 'the worker exits by itself after its last call')
})

test('workers in parallel with the main thread, and errors cross the thread boundary', { timeout: 10_000 }, async (t) => {
  const server = await fake(t)
  const runs = [0, 1, 2].map((phase) => runWorker(t, { apiKey: server.apiKey, url: server.url, phase }))
  const bad = runWorker(t, { apiKey: 'api-wrong-token-xyz1', url: server.url, phase: 0 })
  const main = ld.getRelease('web', 'checkout', { apiKey: TOKEN, baseUrl: server.url })
  const results = await Promise.all(runs.map((r) => r.message))
  for (const result of results) assert.equal(result.ok, true, JSON.stringify(result))
  const failure = await bad.message
  assert.equal(failure.ok, false)
  assert.equal(failure.name, 'LaunchDarklyError')
  assert.equal(failure.code, 'ERR_LD_UNAUTHORIZED')
  await main
  assert.deepEqual(
    server.getRelease('web', 'checkout').phases.map((p) => p.complete),
    [true, true, true],
  )
  for (const r of [...runs, bad]) assert.equal(await r.exit, 0)
})

/** Runs `script` in a child Node process; resolves with its exit code, output and run time. */
async function runChild(script, env) {
  const cleanEnv = { ...process.env }
  for (const name of ENV_VARS) delete cleanEnv[name]
  const started = Date.now()
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...cleanEnv, ...env, LD_RELEASE_ADDON: ADDON_PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const killer = setTimeout(() => child.kill('SIGKILL'), 15000)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const [code, signal] = await once(child, 'close')
  clearTimeout(killer)
  return { code, signal, stdout, stderr, elapsed: Date.now() - started }
}

test('a child process exits promptly after its last call', async (t) => {
  const server = await fake(t)
  const script = `
    const ld = require(process.env.LD_RELEASE_ADDON)
    const client = new ld.ReleaseClient()
    const signal = new AbortController().signal
    ;(async () => {
      const release = await client.completePhase('web', 'checkout', 0, { signal })
      await ld.reopenPhase('web', 'checkout', 1)
      const again = await ld.getRelease('web', 'checkout', { signal })
      process.stdout.write(JSON.stringify({ first: release.phases[0].complete, version: again._version }))
      globalThis.lastCallAt = Date.now()
      process.on('exit', () => process.stderr.write('idle-ms=' + (Date.now() - globalThis.lastCallAt)))
    })()
  `
  const run = await runChild(script, { LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: server.url })
  assert.equal(run.code, 0, run.stderr)
  assert.deepEqual(JSON.parse(run.stdout), { first: true, version: server.getRelease('web', 'checkout')._version })
  // Each phase change on its client: the release, its pipeline, the PATCH; then one read.
  assert.equal(server.requests.length, 7)
  const idle = Number(/idle-ms=(\d+)/.exec(run.stderr)?.[1])
  assert.ok(idle < 1000, `the process lingered ${idle} ms after its last call (pooled connections must not keep it alive)`)
  assert.ok(run.elapsed < 5000, `the child ran ${run.elapsed} ms`)
})

test('a child process exits promptly after a failed call, a timeout and a network error', async (t) => {
  const server = await fake(t)
  server.injectFault({ times: 1, delayMs: 1000 })
  const script = `
    const ld = require(process.env.LD_RELEASE_ADDON)
    const codes = []
    ;(async () => {
      for (const call of [
        () => ld.getRelease('web', 'checkout', { timeoutMs: 200, maxRetries: 0 }),
        () => ld.getRelease('web', 'missing'),
        () => ld.getRelease('web', 'checkout', { baseUrl: 'http://127.0.0.1:' + process.env.DEAD_PORT, maxRetries: 0 }),
      ]) {
        await call().then(() => codes.push('ok'), (e) => codes.push(e.code))
      }
      process.stdout.write(JSON.stringify(codes))
      globalThis.lastCallAt = Date.now()
      process.on('exit', () => process.stderr.write('idle-ms=' + (Date.now() - globalThis.lastCallAt)))
    })()
  `
  const run = await runChild(script, {
    LD_ACCESS_TOKEN: server.apiKey,
    LD_BASE_URI: server.url,
    DEAD_PORT: String(await deadPort()),
  })
  assert.equal(run.code, 0, run.stderr)
  assert.deepEqual(JSON.parse(run.stdout), ['ERR_LD_TIMEOUT', 'ERR_LD_NOT_FOUND', 'ERR_LD_NETWORK'])
  const idle = Number(/idle-ms=(\d+)/.exec(run.stderr)?.[1])
  assert.ok(idle < 1000, `the process lingered ${idle} ms after its last call`)
})

test('a child process whose call is aborted exits promptly', async (t) => {
  const server = await fake(t)
  server.injectFault({ times: 1, stallMs: 2500 })
  const script = `
    const ld = require(process.env.LD_RELEASE_ADDON)
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    ld.completePhase('web', 'checkout', 0, { signal: controller.signal }).then(
      () => process.stdout.write('resolved'),
      (e) => process.stdout.write(e.name + ' ' + e.code),
    )
  `
  const run = await runChild(script, { LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: server.url })
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.stdout, 'AbortError ABORT_ERR')
  assert.ok(run.elapsed < 2000, `the child ran ${run.elapsed} ms; the stalled answer would take 2.5 s`)
})

test('network work runs on one runtime thread named ld-release, also with a worker thread loaded', { skip: process.platform !== 'linux' }, async (t) => {
  const server = await fake(t)
  const script = `
    const { readdirSync, readFileSync } = require('node:fs')
    const { Worker } = require('node:worker_threads')
    const ld = require(process.env.LD_RELEASE_ADDON)
    const threads = () => readdirSync('/proc/self/task').map((id) => readFileSync('/proc/self/task/' + id + '/comm', 'utf8').trim())
    ;(async () => {
      const client = new ld.ReleaseClient()
      let next = 0
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next++ < 256) await client.completePhase('web', 'checkout', next % 2)
      }))
      const worker = new Worker('require(' + JSON.stringify(process.env.LD_RELEASE_ADDON) + ').getRelease("web", "checkout").then((r) => require("node:worker_threads").parentPort.postMessage(r._version))', { eval: true })
      const version = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject))
      process.stdout.write(JSON.stringify({ version, threads: threads() }))
      await worker.terminate()
    })()
  `
  const run = await runChild(script, { LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: server.url })
  assert.equal(run.code, 0, run.stderr)
  const { version, threads } = JSON.parse(run.stdout)
  assert.equal(version, server.getRelease('web', 'checkout')._version)
  // Each completion: the release and the PATCH; the 64 first calls shared one read of the
  // pipeline; the worker's read.
  assert.equal(server.requests.length, 2 * 256 + 1 + 1)
  assert.equal(threads.filter((name) => name === 'ld-release').length, 1, threads.join(', '))
  assert.equal(threads.filter((name) => name.startsWith('tokio')).length, 0, threads.join(', '))
})
