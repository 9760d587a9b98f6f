// Shared pieces of the node test suites: the addon, the fake, and error assertions.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { inspect } from 'node:util'

const require = createRequire(import.meta.url)

/** The addon, loaded the way CommonJS users load it. */
export const ld = require('../index.js')
export const { startFakeLaunchDarkly, sampleRelease } = require('../testing/index.js')

export const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version
export const ADDON_PATH = require.resolve('../index.js')
export const TESTING_PATH = require.resolve('../testing/index.js')

/** A token long enough that its masked form (last four characters) differs from it. */
export const TOKEN = 'api-test-6f1c2b9e-tok-SECRET-91d7'

/** Environment variables the library reads; tests that depend on them clear them first. */
export const ENV_VARS = ['LD_ACCESS_TOKEN', 'LAUNCHDARKLY_ACCESS_TOKEN', 'LD_BASE_URI', 'LAUNCHDARKLY_API_HOST']

/**
 * Starts a fake on 127.0.0.1 holding one sample release at web/checkout (unless
 * `releases` is given) and closes it after the test.
 */
export async function fake(t, options = {}) {
  const server = await startFakeLaunchDarkly({
    apiKey: TOKEN,
    releases: [{ projectKey: 'web', flagKey: 'checkout', release: sampleRelease() }],
    ...options,
  })
  t.after(() => server.close())
  return server
}

/** A client for `server` with small limits, so failures end quickly. */
export function client(server, options = {}) {
  return new ld.ReleaseClient({ apiKey: server.apiKey, baseUrl: server.url, timeoutMs: 2000, maxRetries: 0, ...options })
}

/** Sets environment variables for the rest of the test (`undefined` deletes) and restores them after. */
export function setEnv(t, vars) {
  const saved = {}
  for (const name of new Set([...ENV_VARS, ...Object.keys(vars)])) saved[name] = process.env[name]
  for (const name of ENV_VARS) delete process.env[name]
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  t.after(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })
}

/** Runs `fn` (sync or async) and returns what it threw or rejected with; fails if it succeeded. */
export async function failure(fn) {
  let result
  try {
    result = await fn()
  } catch (error) {
    return error
  }
  assert.fail(`expected a failure, got ${inspect(result, { depth: 1 })}`)
}

/** The shortest piece of a token that must never appear (the addon masks pieces this long). */
export const SECRET_PIECE = 8

/**
 * `text` with one level of JSON string escapes (`\u0041`), percent-encoding (`%41`) and
 * HTML character references (`&#65;`, `&#x41;`) undone.
 */
export function decodeOnce(text) {
  return text
    .replace(/\\u([0-9a-fA-F]{4})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/%([0-9a-fA-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/&#[xX]([0-9a-fA-F]{1,6});/g, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#([0-9]{1,7});/g, (_, dec) => String.fromCodePoint(Number(dec)))
}

/**
 * The first piece of `secret` (SECRET_PIECE characters or more, or the whole of a shorter
 * one) found in `text` as it is or after undoing up to four levels of encoding; null if none.
 */
export function findSecret(text, secret = TOKEN) {
  const size = Math.min(SECRET_PIECE, secret.length)
  let plain = String(text)
  for (let round = 0; round < 5; round++) {
    for (let start = 0; start + size <= secret.length; start++) {
      const piece = secret.slice(start, start + size)
      if (plain.includes(piece)) return piece
    }
    const next = decodeOnce(plain)
    if (next === plain) break
    plain = next
  }
  return null
}

/** Asserts that no piece of `secret` (see `findSecret`) is in `text`. */
export function assertNoSecretIn(text, where, secret = TOKEN) {
  const piece = findSecret(text, secret)
  assert.equal(piece, null, `a piece of the token (${JSON.stringify(piece)}) appears in ${where}: ${text}`)
}

/** Asserts that no piece of `secret`, in any encoding, is in any rendering of `error`. */
export function assertNoSecret(error, secret = TOKEN) {
  const renderings = {
    message: String(error.message),
    stack: String(error.stack),
    string: String(error),
    json: JSON.stringify(error),
    inspect: inspect(error, { showHidden: true, depth: null }),
    properties: JSON.stringify(Object.getOwnPropertyNames(error).map((k) => String(error[k]))),
  }
  for (const [where, text] of Object.entries(renderings)) {
    assertNoSecretIn(text, `the error's ${where}`, secret)
  }
}

/**
 * Asserts that `error` is a LaunchDarklyError with `expected` properties (a property
 * given as `undefined` must be absent) and that the token is nowhere in it.
 */
export function assertLdError(error, expected, secret = TOKEN) {
  assert.ok(error instanceof Error, `not an Error: ${inspect(error)}`)
  assert.equal(error.name, 'LaunchDarklyError', `name of ${inspect(error)}`)
  for (const [key, value] of Object.entries(expected)) {
    if (value === undefined) assert.ok(!(key in error), `${key} should be absent: ${inspect(error)}`)
    else assert.deepEqual(error[key], value, `${key} of ${inspect(error)}`)
  }
  assert.equal(typeof error.message, 'string')
  assert.ok(error.message.length > 0)
  assertNoSecret(error, secret)
  return error
}

/** Calls `fn`, expects a LaunchDarklyError with `expected` properties, and returns it. */
export async function expectLdError(fn, expected, secret = TOKEN) {
  return assertLdError(await failure(fn), expected, secret)
}

/** A port on 127.0.0.1 where nothing listens (bound, noted, closed). */
export async function deadPort() {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * A minimal HTTP server on 127.0.0.1 answering every request with `answer(req, body)`
 * (`{ status, headers, body }`), recording `{ method, url, headers, body }`.
 */
export async function tinyServer(t, answer) {
  const requests = []
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      requests.push({ method: req.method, url: req.url, headers: req.headers, body })
      const out = answer(req, body)
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json', ...out.headers })
      res.end(typeof out.body === 'string' ? out.body : JSON.stringify(out.body))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${server.address().port}`, requests }
}

/** Counts the occurrences of header `name` (any case) in a `rawHeaders` list. */
export function countRawHeader(rawHeaders, name) {
  let n = 0
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === name) n++
  return n
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
