// Ctrl-C during `ld-release advance` and `complete-many`: the run stops, what moved and
// what did not is printed (server text inert, token masked), and the command exits 130
// (143 for SIGTERM). Each case runs the command twice against the fake on 127.0.0.1,
// slowed down at one request, the signal sent once N writes arrived: as users run it, a
// child process sent the signal; and in this process, its listener called (so that
// mutation testing sees the code run).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { ENV_VARS, TOKEN, assertNoSecretIn, fake, sampleRelease, sleep } from './helpers.mjs'

const BIN = fileURLToPath(new URL('../bin/ld-release.js', import.meta.url))
const INTERRUPT = fileURLToPath(new URL('../lib/cli/interrupt.js', import.meta.url))
const { cutShort, interruptedResults, interruptedSummary, interrupts } = createRequire(import.meta.url)(INTERRUPT)
const { main } = createRequire(import.meta.url)('../lib/cli/main.js')

const flags = (n) => Array.from({ length: n }, (_, i) => `f${i}`)
const seeded = (keys) => keys.map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() }))
const auth = (server) => ['--access-token', server.apiKey, '--base-uri', server.url]
const patches = (server) => server.requests.filter((r) => r.method === 'PATCH')

/** This process's environment without the variables the library and the drawing read. */
function cleanEnv() {
  const env = { ...process.env }
  for (const name of [...ENV_VARS, 'FORCE_COLOR', 'NO_COLOR']) delete env[name]
  return env
}

/**
 * Runs the binary and sends it `signal` once `ready()` holds (checked every 5 ms);
 * resolves to { code, stdout, stderr }. Killed after 20 s if still running.
 */
function inChild(args, ready, signal = 'SIGINT') {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    const poll = setInterval(() => {
      if (!ready()) return
      clearInterval(poll)
      child.kill(signal)
    }, 5)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(killer)
      clearInterval(poll)
      resolve({ code, stdout, stderr })
    })
  })
}

/**
 * Runs the command in this process (`main`, its output kept) and, once `ready()` holds
 * and the command listens for `signal`, calls its listener as the process would;
 * resolves to { code, stdout, stderr }.
 */
async function inProcess(args, ready, signal = 'SIGINT', { stderr } = {}) {
  const out = []
  const err = []
  const io = { out: (text) => out.push(`${text}\n`), err: (text) => err.push(`${text}\n`), env: {}, readStdin: () => '', stderr }
  const listening = process.listenerCount(signal)
  let settled = false
  const running = main(args, io).finally(() => (settled = true))
  for (let i = 0; i < 4000 && !settled; i++) {
    if (ready() && process.listenerCount(signal) > listening) {
      process.listeners(signal).at(-1)(signal)
      break
    }
    await sleep(5)
  }
  const code = await running
  assert.equal(process.listenerCount(signal), listening, 'the command stopped listening for the signal')
  return { code, stdout: out.join(''), stderr: err.join('') }
}

/** A test run once with the command in a child process, once in this process. */
function both(name, body) {
  for (const [where, run] of [['a child process', inChild], ['this process', inProcess]]) {
    test(`${name} (in ${where})`, (t) => body(t, run))
  }
}

both('SIGINT during advance: the flags moved, the write in flight and those not sent are printed; exit 130', async (t, interrupted) => {
  const keys = flags(6)
  const server = await fake(t, { releases: seeded(keys) })
  // f3's write is answered only after 3 s: the signal comes while it is in flight.
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/f3/release' }, delayMs: 3000 })
  const r = await interrupted(['advance', 'web', 'standard-rollout', '--from', '0', '--concurrency', '1', ...auth(server)], () => patches(server).length === 4)
  assert.equal(r.code, 130, r.stderr)
  assert.deepEqual(r.stdout.trimEnd().split('\n'), [
    '✓ web/f0',
    '✓ web/f1',
    '✓ web/f2',
    '? web/f3: its write was in flight when SIGINT came: it may or may not have been applied (read the release to know)',
    '- web/f4: not sent (SIGINT came first): nothing was written',
    '- web/f5: not sent (SIGINT came first): nothing was written',
  ])
  assert.equal(r.stderr, 'interrupted by SIGINT: 6 flags at phase 0 of standard-rollout: 3 advanced, 0 failed, 1 in flight (may or may not have been applied), 2 not sent\n')
  // The server received the three writes printed as done and the one in flight, no more.
  await sleep(300)
  assert.deepEqual(patches(server).map((p) => p.path.split('/')[5]), ['f0', 'f1', 'f2', 'f3'])
  for (const key of ['f0', 'f1', 'f2']) assert.equal(server.getRelease('web', key).phases[0].complete, true)
  for (const key of ['f4', 'f5']) assert.equal(server.getRelease('web', key).phases[0].complete, false)
})

both('SIGTERM during advance --json: one entry per flag, those cut short marked aborted; exit 143', async (t, interrupted) => {
  const keys = flags(4)
  const server = await fake(t, { releases: seeded(keys) })
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/f1/release' }, delayMs: 3000 })
  const r = await interrupted(['advance', 'web', 'standard-rollout', '--from', 'Testing', '--concurrency', '1', '--json', ...auth(server)], () => patches(server).length === 2, 'SIGTERM')
  assert.equal(r.code, 143, r.stderr)
  const entries = JSON.parse(r.stdout)
  assert.deepEqual(
    entries.map((e) => [e.flagKey, e.ok, e.aborted ?? (e.release ? 'release' : e.error?.code)]),
    [
      ['f0', true, 'release'],
      ['f1', false, 'unknown'],
      ['f2', false, 'not-sent'],
      ['f3', false, 'not-sent'],
    ],
  )
  assert.equal(r.stderr, 'interrupted by SIGTERM: 4 flags at phase "Testing" of standard-rollout: 1 advanced, 0 failed, 1 in flight (may or may not have been applied), 2 not sent\n')
})

both('SIGINT while advance reads its flags: nothing was written, and it says so; exit 130', async (t, interrupted) => {
  const server = await fake(t, { releases: seeded(flags(3)) })
  server.injectFault({ match: { method: 'GET', path: '/api/v2/projects/web/release-pipelines/standard-rollout/releases' }, delayMs: 3000 })
  const listed = () => server.requests.some((r) => r.path.split('?')[0].endsWith('/releases'))
  const r = await interrupted(['advance', 'web', 'standard-rollout', '--from', '0', ...auth(server)], listed)
  assert.equal(r.code, 130, r.stderr)
  assert.equal(r.stdout, '')
  assert.equal(r.stderr, 'interrupted by SIGINT before any write was sent: nothing was written\n')
  assert.equal(patches(server).length, 0)
})

both('the flags an interrupted advance prints are inert and masked, as every server text', async (t, interrupted) => {
  const evil = `x\u001b]0;pwned\u0007\u001b[2J\u202e${TOKEN}`
  const server = await fake(t, { apiKey: TOKEN, releases: seeded(['f0', 'f1', evil]) })
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/f1/release' }, delayMs: 3000 })
  const r = await interrupted(['advance', 'web', 'standard-rollout', '--from', '0', '--concurrency', '1', ...auth(server)], () => patches(server).length === 2)
  assert.equal(r.code, 130, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  assert.equal(lines.length, 3, r.stdout)
  assert.match(lines[2], /^- web\/x\\u\{1b\}\]0;pwned\\u\{7\}\\u\{1b\}\[2J\\u\{202e\}\*\*\*\*91d7: not sent \(SIGINT came first\): nothing was written$/)
  for (const text of [r.stdout, r.stderr]) {
    assert.doesNotMatch(text, /[\u001b\u0007\u202e]/)
    assertNoSecretIn(text, 'the output')
  }
})

both('SIGINT during advance --dry-run: nothing was written, and it says so; exit 130', async (t, interrupted) => {
  const server = await fake(t, { releases: seeded(flags(2)) })
  server.injectFault({ match: { method: 'GET', path: '/api/v2/projects/web/release-pipelines/standard-rollout/releases' }, delayMs: 3000 })
  const listed = () => server.requests.some((r) => r.path.split('?')[0].endsWith('/releases'))
  const r = await interrupted(['advance', 'web', 'standard-rollout', '--from', '0', '--dry-run', ...auth(server)], listed)
  assert.equal(r.code, 130, r.stderr)
  assert.equal(r.stdout, '')
  assert.equal(r.stderr, 'interrupted by SIGINT: a dry run, nothing was written\n')
})

/** Writes `items` to a file of a fresh directory removed after the test; returns its path. */
function itemsFile(t, items) {
  const dir = mkdtempSync(join(tmpdir(), 'ld-release-interrupt-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'items.json')
  writeFileSync(file, JSON.stringify(items))
  return file
}

both('SIGINT during complete-many: each item done, in flight or not sent, the named ones too; exit 130', async (t, interrupted) => {
  const keys = flags(5)
  const server = await fake(t, { releases: seeded(keys) })
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/f2/release' }, delayMs: 3000 })
  const items = [
    ...keys.slice(0, 4).map((flagKey) => ({ projectKey: 'web', flagKey, phase: 0 })),
    { projectKey: 'web', flagKey: 'f4', phase: 'Staging' },
    { projectKey: 'web', flagKey: '', phase: 0 },
  ]
  const file = itemsFile(t, items)
  const r = await interrupted(['complete-many', '--file', file, '--concurrency', '1', ...auth(server)], () => patches(server).length === 3)
  assert.equal(r.code, 130, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  assert.deepEqual(lines.slice(0, 5), [
    '✓ web/f0 phase 0',
    '✓ web/f1 phase 0',
    '? web/f2 phase 0: its write was in flight when SIGINT came: it may or may not have been applied (read the release to know)',
    '- web/f3 phase 0: not sent (SIGINT came first): nothing was written',
    '- web/f4 phase "Staging": not sent (SIGINT came first): nothing was written',
  ])
  assert.match(lines[5], /^✗ web\/ phase 0: items\[\d+\]\.flagKey .* \(code ERR_LD_INVALID_ARGUMENT\)$/)
  assert.equal(r.stderr, 'interrupted by SIGINT: 6 items: 2 done, 1 failed, 1 in flight (may or may not have been applied), 2 not sent\n')
  await sleep(300)
  assert.deepEqual(patches(server).map((p) => p.path.split('/')[5]), ['f0', 'f1', 'f2'])
  assert.equal(server.requests.filter((r) => r.path.includes('/f4/')).length, 0, 'nothing sent for the named item')
})

both('SIGINT while complete-many reads the release of an item named by phase name: that item is in flight', async (t, interrupted) => {
  const server = await fake(t, { releases: seeded(['f0']) })
  server.injectFault({ match: { method: 'GET', path: '/api/v2/flags/web/f0/release' }, delayMs: 3000 })
  const file = itemsFile(t, [{ projectKey: 'web', flagKey: 'f0', phase: 'Testing' }])
  const r = await interrupted(['complete-many', '--file', file, ...auth(server)], () => server.requests.length === 1)
  assert.equal(r.code, 130, r.stderr)
  assert.equal(r.stdout, '? web/f0 phase "Testing": its write was in flight when SIGINT came: it may or may not have been applied (read the release to know)\n')
  assert.equal(r.stderr, 'interrupted by SIGINT: 1 item: 0 done, 0 failed, 1 in flight (may or may not have been applied), 0 not sent\n')
})

both('SIGINT during complete-many --json: the entries cut short carry aborted and no error', async (t, interrupted) => {
  const keys = flags(3)
  const server = await fake(t, { releases: seeded(keys) })
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/f0/release' }, delayMs: 3000 })
  const file = itemsFile(t, keys.map((flagKey) => ({ projectKey: 'web', flagKey, phase: 1 })))
  const r = await interrupted(['complete-many', '--file', file, '--concurrency', '1', '--json', ...auth(server)], () => patches(server).length === 1)
  assert.equal(r.code, 130, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), [
    { ok: false, projectKey: 'web', flagKey: 'f0', phase: 1, aborted: 'unknown' },
    { ok: false, projectKey: 'web', flagKey: 'f1', phase: 1, aborted: 'not-sent' },
    { ok: false, projectKey: 'web', flagKey: 'f2', phase: 1, aborted: 'not-sent' },
  ])
})

// The same commands when no signal comes: listening changes nothing of what they print
// and the exit code (in this process, where mutation testing sees it).
test('an advance no signal interrupts prints each flag and the count as ever, and exits 1 for a failed one', async (t) => {
  const server = await fake(t, { releases: seeded(flags(3)) })
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/f1/release' }, status: 500 })
  const never = () => false
  const args = ['advance', 'web', 'standard-rollout', '--from', '0', '--concurrency', '1', '--retries', '0', ...auth(server)]
  const r = await inProcess(args, never)
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stdout, /^✓ web\/f0\n✗ web\/f1: .* \(code ERR_LD_SERVER\)\n✓ web\/f2\n$/)
  assert.equal(r.stderr, '3 flags at phase 0 of standard-rollout: 2 advanced, 1 failed\n')
  const dry = await inProcess([...args, '--dry-run'], never)
  assert.equal(dry.code, 0, dry.stderr)
  assert.equal(dry.stderr, '1 flag at phase 0 of standard-rollout would move: f1 (1 PATCH request; nothing was written)\n')
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/f1/release' }, status: 500 })
  const json = await inProcess([...args, '--json'], never)
  assert.equal(json.code, 1, json.stderr)
  assert.deepEqual(JSON.parse(json.stdout).map((e) => [e.ok, e.flagKey, e.error?.code, 'aborted' in e]), [[false, 'f1', 'ERR_LD_SERVER', false]])
})

test('a complete-many no signal interrupts prints each item and the count as ever, and exits 1 for a failed one', async (t) => {
  const server = await fake(t, { releases: seeded(flags(2)) })
  const items = [
    { projectKey: 'web', flagKey: 'f0', phase: 0 },
    { projectKey: 'web', flagKey: 'missing', phase: 0 },
    { projectKey: 'web', flagKey: 'f1', phase: 'Staging' },
    { projectKey: 'web', flagKey: 'missing', phase: 'Staging' },
    { projectKey: 'web', flagKey: 'f0', phase: 'Production' },
  ]
  const file = itemsFile(t, items)
  const never = () => false
  // A terminal for the progress bar.
  const tty = { isTTY: true, text: '', write: (text) => (tty.text += text) }
  const r = await inProcess(['complete-many', '--file', file, '--concurrency', '1', ...auth(server)], never, 'SIGINT', { stderr: tty })
  assert.equal(r.code, 1, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  assert.equal(lines[0], '✓ web/f0 phase 0')
  assert.match(lines[1], /^✗ web\/missing phase 0: .* \(code ERR_LD_NOT_FOUND\)$/)
  assert.equal(lines[2], '✓ web/f1 phase "Staging"')
  assert.match(lines[3], /^✗ web\/missing phase "Staging": .* \(code ERR_LD_NOT_FOUND\)$/)
  assert.equal(lines[4], '✓ web/f0 phase "Production"')
  assert.equal(r.stderr, '3 done, 2 failed\n')
  assert.deepEqual(tty.text.split('\r').slice(1).map((line) => line.split('] ')[1].trim()), ['0/5', '1/5', '2/5', '3/5', '4/5', '5/5'])
  const json = await inProcess(['complete-many', '--file', file, '--json', ...auth(server)], never)
  assert.equal(json.code, 1, json.stderr)
  assert.deepEqual(
    JSON.parse(json.stdout).map((e) => [e.ok, e.flagKey, Object.keys(e).filter((k) => ['release', 'error', 'aborted'].includes(k))]),
    [
      [true, 'f0', ['release']],
      [false, 'missing', ['error']],
      [true, 'f1', ['release']],
      [false, 'missing', ['error']],
      [true, 'f0', ['release']],
    ],
  )
  const dry = await inProcess(['complete-many', '--file', file, '--dry-run', ...auth(server)], never)
  assert.equal(dry.code, 1, dry.stderr)
  assert.match(dry.stderr, /2 items would fail; nothing was sent\n$/)
})

test('the help of advance and complete-many gives the exit codes of an interruption', async () => {
  for (const command of ['advance', 'complete-many']) {
    const child = spawn(process.execPath, [BIN, command, '--help'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout.on('data', (d) => (stdout += d))
    const [code] = await new Promise((resolve) => child.on('close', (...args) => resolve(args)))
    assert.equal(code, 0)
    assert.match(stdout, /\n130 interrupted by Ctrl-C \(SIGINT\), 143 by SIGTERM: the run stops at once and prints\nwhat moved/, command)
  }
})

test('a second SIGINT exits at once with 130, whatever the run is doing', async () => {
  // A run that never ends by itself: the first signal aborts it (and is seen), the
  // second ends the process.
  const script = `
    const { interrupts } = require(${JSON.stringify(INTERRUPT)})
    const interrupt = interrupts()
    interrupt.signal.addEventListener('abort', () => {
      console.log('aborted by', interrupt.signal.reason)
      process.kill(process.pid, 'SIGINT')
    })
    setInterval(() => {}, 1000)
    process.kill(process.pid, 'SIGINT')
  `
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  const [code] = await new Promise((resolve) => child.on('close', (...args) => resolve(args)))
  clearTimeout(killer)
  assert.equal(code, 130)
  assert.equal(stdout, 'aborted by SIGINT\n')
  assert.equal(stderr, 'SIGINT again: exiting at once; a write in flight may or may not have been applied\n')
})

test('interrupts() listens for SIGINT and SIGTERM until close(); a run it did not stop is not taken for one it did', () => {
  const before = ['SIGINT', 'SIGTERM'].map((name) => process.listenerCount(name))
  const interrupt = interrupts()
  assert.deepEqual(['SIGINT', 'SIGTERM'].map((name) => process.listenerCount(name)), before.map((n) => n + 1))
  assert.equal(interrupt.received, null)
  assert.equal(interrupt.signal.aborted, false)
  const aborted = Object.assign(new Error('aborted'), { name: 'AbortError', results: [] })
  // Not interrupted: an AbortError with results is not ours, and is rethrown.
  assert.throws(() => interruptedResults(interrupt.signal, aborted), (e) => e === aborted)
  assert.throws(() => interruptedResults(undefined, aborted), (e) => e === aborted)
  interrupt.close()
  assert.deepEqual(['SIGINT', 'SIGTERM'].map((name) => process.listenerCount(name)), before)
})

test('an interrupted run takes only the AbortError that carries results', async () => {
  const interrupt = interrupts()
  const seen = new Promise((resolve) => interrupt.signal.addEventListener('abort', resolve))
  // Its own listener (the newest), called as the process calls it; the test runner's
  // own listeners, if any, are left alone.
  process.listeners('SIGTERM').at(-1)('SIGTERM')
  await seen
  interrupt.close()
  assert.equal(interrupt.received, 'SIGTERM')
  assert.equal(interrupt.exitCode, 143)
  assert.equal(interrupt.signal.reason, 'SIGTERM')
  const results = [{ ok: true }]
  assert.equal(interruptedResults(interrupt.signal, Object.assign(new Error('x'), { name: 'AbortError', results })), results)
  for (const other of [null, undefined, new Error('network'), Object.assign(new Error('x'), { name: 'AbortError' }), Object.assign(new Error('x'), { name: 'LaunchDarklyError', results })]) {
    assert.throws(() => interruptedResults(interrupt.signal, other), (e) => e === other)
  }
})

test('the summary of an interrupted run counts each kind of result, and leaves out an empty in-flight count', () => {
  const results = [{ ok: true }, { ok: true }, { ok: false, error: {} }, { ok: false, aborted: 'not-sent' }]
  assert.equal(interruptedSummary(results, 'SIGINT', '4 items', 'done'), 'interrupted by SIGINT: 4 items: 2 done, 1 failed, 1 not sent')
  assert.equal(
    interruptedSummary([...results, { ok: false, aborted: 'unknown' }, { ok: false, aborted: 'unknown' }], 'SIGTERM', '6 flags', 'advanced'),
    'interrupted by SIGTERM: 6 flags: 2 advanced, 1 failed, 2 in flight (may or may not have been applied), 1 not sent',
  )
  // Skipped flags (not at the phase) are counted apart, neither failed nor advanced.
  const skipped = { ok: false, skipped: true, reason: 'moved', error: {} }
  assert.equal(
    interruptedSummary([...results, skipped, skipped], 'SIGINT', '6 flags', 'advanced'),
    'interrupted by SIGINT: 6 flags: 2 advanced, 1 failed, 2 skipped (not at that phase), 1 not sent',
  )
  assert.equal(interruptedSummary([], 'SIGINT', '0 flags', 'advanced'), 'interrupted by SIGINT before any write was sent: nothing was written')
  assert.equal(cutShort('web/a', 'not-sent', 'SIGTERM'), '- web/a: not sent (SIGTERM came first): nothing was written')
  assert.equal(cutShort('web/a', 'unknown', 'SIGINT'), '? web/a: its write was in flight when SIGINT came: it may or may not have been applied (read the release to know)')
})

test('a second signal exits at once, with its own code, saying so on stderr', () => {
  const exits = []
  let written = ''
  const interrupt = interrupts({ exit: (code) => exits.push(code), stderr: { write: (text) => (written += text) } })
  const on = process.listeners('SIGINT').at(-1)
  on('SIGINT')
  assert.deepEqual([interrupt.received, exits, written], ['SIGINT', [], ''])
  on('SIGTERM')
  on('SIGINT')
  interrupt.close()
  assert.deepEqual(exits, [143, 130])
  assert.equal(written, 'SIGTERM again: exiting at once; a write in flight may or may not have been applied\nSIGINT again: exiting at once; a write in flight may or may not have been applied\n')
  assert.equal(interrupt.received, 'SIGINT', 'the first signal stays the one received')
})
