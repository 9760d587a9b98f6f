// What the CLI writes to stderr about the client's requests (lib/cli/verbose.js), in
// this process: events are published on the library's channels by hand, as the library
// publishes them, and the lines and countdowns written are checked exactly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import dc from 'node:diagnostics_channel'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { watchRequests, COUNTDOWN_AFTER_MS } = require('../lib/cli/verbose.js')

const publish = (name, event) => dc.channel(`ld-release:${name}`).publish(event)
const NAMES = ['request', 'response', 'retry', 'wait']
const subscribedTo = () => NAMES.filter((name) => dc.channel(`ld-release:${name}`).hasSubscribers)

/** A watcher writing to a recorded stream; `tty` makes the stream a terminal. */
function watch({ verbose = false, tty = false, env = {}, redact, countdownAfterMs } = {}) {
  const lines = []
  const writes = []
  const stream = { isTTY: tty, write: (text) => writes.push(text) }
  const stop = watchRequests({ stream, line: (text) => lines.push(text), verbose, env, ...(redact ? { redact } : {}), ...(countdownAfterMs === undefined ? {} : { countdownAfterMs }) })
  return { lines, writes, stop }
}

const GET = { method: 'GET', url: '/api/v2/flags/web/f', attempt: 1 }

test('with --verbose, each answer is a line: its status, or how the attempt ended, and its time', (t) => {
  const w = watch({ verbose: true })
  t.after(w.stop)
  publish('response', { ...GET, status: 200, durationMs: 84.4 })
  publish('response', { ...GET, error: 'timeout', durationMs: 30000.6 })
  publish('response', { ...GET, error: 'network', durationMs: 3 })
  publish('response', { ...GET, status: 200, error: 'too-large', durationMs: 12 })
  assert.deepEqual(w.lines, [
    'GET /api/v2/flags/web/f -> 200 in 84 ms',
    'GET /api/v2/flags/web/f -> timed out after 30001 ms',
    'GET /api/v2/flags/web/f -> connection failed after 3 ms',
    'GET /api/v2/flags/web/f -> 200, body too large, in 12 ms',
  ])
  assert.deepEqual(w.writes, [], 'no countdown off a terminal')
})

test('an answer that will be retried shares its line with the retry', (t) => {
  const w = watch({ verbose: true })
  t.after(w.stop)
  publish('response', { ...GET, status: 429, durationMs: 84, willRetry: true })
  assert.deepEqual(w.lines, [], 'held until its retry')
  publish('retry', { ...GET, status: 429, reason: 'status', waitMs: 1500, source: 'retry-after' })
  // A retry whose answer was not seen (another attempt) says what it knows.
  publish('retry', { ...GET, attempt: 2, status: 503, reason: 'status', waitMs: 250, source: 'backoff' })
  publish('retry', { ...GET, attempt: 3, reason: 'network', waitMs: 1000, source: 'backoff' })
  assert.deepEqual(w.lines, [
    'GET /api/v2/flags/web/f -> 429 in 84 ms; retrying in 1.5 s (retry-after)',
    'GET /api/v2/flags/web/f -> 503; retrying in 0.3 s (backoff)',
    'GET /api/v2/flags/web/f -> network; retrying in 1.0 s (backoff)',
  ])
})

test('answers held for their retries are told apart by method, URL and attempt', (t) => {
  const w = watch({ verbose: true })
  t.after(w.stop)
  publish('response', { method: 'GET', url: '/a', attempt: 1, status: 429, durationMs: 1, willRetry: true })
  publish('response', { method: 'GET', url: '/b', attempt: 1, status: 503, durationMs: 2, willRetry: true })
  publish('response', { method: 'PUT', url: '/a', attempt: 1, status: 500, durationMs: 3, willRetry: true })
  publish('response', { method: 'GET', url: '/a', attempt: 2, status: 502, durationMs: 4, willRetry: true })
  publish('retry', { method: 'GET', url: '/b', attempt: 1, status: 503, reason: 'status', waitMs: 100, source: 'backoff' })
  publish('retry', { method: 'GET', url: '/a', attempt: 2, status: 502, reason: 'status', waitMs: 100, source: 'backoff' })
  publish('retry', { method: 'PUT', url: '/a', attempt: 1, status: 500, reason: 'status', waitMs: 100, source: 'backoff' })
  publish('retry', { method: 'GET', url: '/a', attempt: 1, status: 429, reason: 'status', waitMs: 100, source: 'retry-after' })
  assert.deepEqual(w.lines, [
    'GET /b -> 503 in 2 ms; retrying in 0.1 s (backoff)',
    'GET /a -> 502 in 4 ms; retrying in 0.1 s (backoff)',
    'PUT /a -> 500 in 3 ms; retrying in 0.1 s (backoff)',
    'GET /a -> 429 in 1 ms; retrying in 0.1 s (retry-after)',
  ])
})

test('rate-limit waits are lines with their reason, and answers held at the end are written then', () => {
  const w = watch({ verbose: true })
  publish('wait', { ...GET, waitMs: 2000, reason: 'paused' })
  publish('wait', { ...GET, waitMs: 60000, reason: 'budget' })
  publish('wait', { ...GET, waitMs: 10, reason: 'something-new' })
  publish('response', { ...GET, status: 500, durationMs: 5, willRetry: true })
  w.stop()
  assert.deepEqual(w.lines, [
    "GET /api/v2/flags/web/f waits 2.0 s: a 429 paused this client's requests",
    "GET /api/v2/flags/web/f waits 60.0 s: the rate-limit window's budget is spent until X-Ratelimit-Reset",
    'GET /api/v2/flags/web/f waits 0.0 s: something-new',
    'GET /api/v2/flags/web/f -> 500 in 5 ms',
  ])
  assert.deepEqual(subscribedTo(), [], 'stopping unsubscribes')
  publish('response', { ...GET, status: 200, durationMs: 1 })
  assert.equal(w.lines.length, 4, 'nothing after stopping')
})

test('every line goes through redact', (t) => {
  const w = watch({ verbose: true, redact: (text) => `<${text.replaceAll('secret', '***')}>` })
  t.after(w.stop)
  publish('response', { method: 'GET', url: '/x?k=secret', attempt: 1, status: 200, durationMs: 1 })
  publish('wait', { method: 'GET', url: '/x?k=secret', attempt: 1, waitMs: 1000, reason: 'paused' })
  assert.deepEqual(w.lines, ['<GET /x?k=*** -> 200 in 1 ms>', "<GET /x?k=*** waits 1.0 s: a 429 paused this client's requests>"])
})

test('neither verbose nor a terminal: nothing is subscribed', () => {
  const w = watch({})
  assert.deepEqual(subscribedTo(), [])
  w.stop()
  const dumb = watch({ tty: true, env: { TERM: 'dumb' } })
  assert.deepEqual(subscribedTo(), [], 'TERM=dumb draws no countdown')
  dumb.stop()
})

test('verbose off a terminal listens to answers, retries and waits; on a terminal, attempts too', () => {
  const verbose = watch({ verbose: true })
  assert.deepEqual(subscribedTo(), ['response', 'retry', 'wait'])
  verbose.stop()
  const tty = watch({ tty: true })
  assert.deepEqual(subscribedTo(), ['request', 'retry', 'wait'], 'without --verbose, answers are not listened to')
  tty.stop()
  assert.deepEqual(subscribedTo(), [])
})

test('on a terminal, a wait longer than the limit gets a countdown, which the next attempt clears', (t) => {
  assert.equal(COUNTDOWN_AFTER_MS, 2000)
  const w = watch({ tty: true })
  t.after(w.stop)
  publish('wait', { ...GET, waitMs: 2000, reason: 'paused' })
  assert.deepEqual(w.writes, [], 'two seconds is not longer than the limit')
  publish('wait', { ...GET, url: '/x', waitMs: 3000, reason: 'paused' })
  assert.deepEqual(w.writes, ['\r\x1b[KGET /x: waiting for the rate limit: 3 s…'])
  publish('request', GET)
  assert.deepEqual(w.writes.slice(1), ['\r\x1b[K'], 'cleared')
  publish('request', GET)
  assert.equal(w.writes.length, 2, 'cleared once')
  publish('retry', { ...GET, url: '/y', status: 503, reason: 'status', waitMs: 5000, source: 'backoff' })
  publish('retry', { ...GET, url: '/z', reason: 'timeout', waitMs: 4000, source: 'backoff' })
  assert.deepEqual(w.writes.slice(2), ['\r\x1b[KGET /y: HTTP 503, retrying in: 5 s…', '\r\x1b[K', '\r\x1b[KGET /z: timeout, retrying in: 4 s…'])
  assert.deepEqual(w.lines, [], 'no lines without --verbose')
  w.stop()
  assert.deepEqual(w.writes.slice(5), ['\r\x1b[K'], 'stopping clears the countdown')
})

test('a countdown counts down each second and clears itself at the end', async (t) => {
  const w = watch({ tty: true, countdownAfterMs: 0 })
  t.after(w.stop)
  publish('wait', { ...GET, url: '/x', waitMs: 1200, reason: 'paused' })
  assert.deepEqual(w.writes, ['\r\x1b[KGET /x: waiting for the rate limit: 2 s…'])
  await new Promise((resolve) => setTimeout(resolve, 1100))
  assert.deepEqual(w.writes.slice(1), ['\r\x1b[KGET /x: waiting for the rate limit: 1 s…'])
  await new Promise((resolve) => setTimeout(resolve, 1000))
  assert.deepEqual(w.writes.slice(2), ['\r\x1b[K'], 'over: cleared, and not drawn again')
})

test('a countdown cleared by the next attempt is not drawn again', async (t) => {
  const w = watch({ tty: true })
  t.after(w.stop)
  publish('wait', { ...GET, url: '/x', waitMs: 5000, reason: 'paused' })
  publish('request', GET)
  assert.deepEqual(w.writes, ['\r\x1b[KGET /x: waiting for the rate limit: 5 s…', '\r\x1b[K'])
  await new Promise((resolve) => setTimeout(resolve, 1200))
  assert.equal(w.writes.length, 2, 'its timer went with it')
})
