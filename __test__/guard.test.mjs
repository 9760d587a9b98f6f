// isLaunchDarklyError: true for every error the library raises, false for everything else.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TOKEN, client, deadPort, failure, fake, ld, setEnv } from './helpers.mjs'

const { isLaunchDarklyError } = ld

test('isLaunchDarklyError is exported by require and import alike', async () => {
  assert.equal(typeof isLaunchDarklyError, 'function')
  const esm = await import('ld-release')
  assert.equal(esm.isLaunchDarklyError, isLaunchDarklyError)
})

test('true for every kind of error the library raises, thrown or rejected', async (t) => {
  setEnv(t, {})
  const server = await fake(t)
  const c = client(server)
  const dead = `http://127.0.0.1:${await deadPort()}`
  server.injectFault({ match: { path: '/api/v2/flags/web/decode/release' }, times: 5, status: 200, malformed: true })
  server.injectFault({ match: { path: '/api/v2/flags/web/slow/release' }, times: 5, delayMs: 1000 })
  server.injectFault({ match: { path: '/api/v2/flags/web/busy/release' }, times: 5, status: 503 })
  server.injectFault({ match: { path: '/api/v2/flags/web/limited/release' }, times: 5, status: 429, headers: { 'Retry-After': '600' } })
  server.injectFault({ match: { path: '/api/v2/flags/web/clash/release' }, times: 5, status: 409 })
  const cases = {
    ERR_LD_INVALID_ARGUMENT: [() => ld.phasePatch(-1, true), () => new ld.ReleaseClient({ baseUri: server.url }), () => c.completePhase('', 'checkout', 0)],
    ERR_LD_INSECURE_URL: [() => new ld.ReleaseClient({ baseUrl: 'http://example.com' }), () => ld.getRelease('web', 'checkout', { apiKey: TOKEN, baseUrl: 'ftp://x' })],
    ERR_LD_NO_API_KEY: [() => ld.getRelease('web', 'checkout', { baseUrl: server.url })],
    ERR_LD_UNAUTHORIZED: [() => client(server, { apiKey: 'api-wrong-token' }).getRelease('web', 'checkout')],
    ERR_LD_NOT_FOUND: [() => c.getRelease('web', 'missing')],
    ERR_LD_BAD_REQUEST: [() => c.patchRelease('web', 'checkout', [{ op: 'replace', path: '/phases/9/complete', value: true }])],
    ERR_LD_CONFLICT: [() => c.getRelease('web', 'clash')],
    ERR_LD_SERVER: [() => c.getRelease('web', 'busy')],
    ERR_LD_RATE_LIMITED: [() => client(server).getRelease('web', 'limited')],
    ERR_LD_DECODE: [() => c.getRelease('web', 'decode')],
    ERR_LD_TIMEOUT: [() => client(server, { timeoutMs: 100 }).getRelease('web', 'slow')],
    ERR_LD_NETWORK: [() => client({ apiKey: TOKEN, url: dead }).getRelease('web', 'checkout')],
  }
  for (const [code, calls] of Object.entries(cases)) {
    for (const call of calls) {
      const error = await failure(call)
      assert.equal(error.code, code, `${call}: ${error.message}`)
      assert.equal(isLaunchDarklyError(error), true, `${code} from ${call}`)
      // The brand survives whatever is done to the error's properties.
      error.message = 'rewritten'
      error.name = 'Renamed'
      delete error.code
      assert.equal(isLaunchDarklyError(error), true, `${code} after its properties changed`)
    }
  }
})

test('true for the errors in completePhases results', async (t) => {
  const server = await fake(t)
  const results = await client(server).completePhases([
    { projectKey: 'web', flagKey: 'checkout', phase: 0 },
    { projectKey: 'web', flagKey: 'missing', phase: 0 },
    { projectKey: '', flagKey: 'checkout', phase: 0 },
  ])
  assert.deepEqual(results.map((r) => r.ok), [true, false, false])
  assert.deepEqual(results.slice(1).map((r) => [r.error.code, isLaunchDarklyError(r.error)]), [
    ['ERR_LD_NOT_FOUND', true],
    ['ERR_LD_INVALID_ARGUMENT', true],
  ])
  assert.equal(isLaunchDarklyError(results[0]), false)
  assert.equal(isLaunchDarklyError(results[0].release), false)
})

test('false for an AbortError, aborted before or during the call', async (t) => {
  const server = await fake(t)
  server.injectFault({ stallMs: 2000 })
  const before = await failure(() => client(server).getRelease('web', 'checkout', { signal: AbortSignal.abort() }))
  const controller = new AbortController()
  const during = failure(() => client(server).getRelease('web', 'checkout', { signal: controller.signal }))
  setTimeout(() => controller.abort(), 50)
  for (const error of [before, await during]) {
    assert.equal(error.name, 'AbortError')
    assert.equal(isLaunchDarklyError(error), false)
  }
})

test('false for look-alikes and copies of a real LaunchDarklyError', async (t) => {
  const server = await fake(t)
  const real = await failure(() => client(server).getRelease('web', 'missing'))
  assert.equal(isLaunchDarklyError(real), true)
  const copiedName = Object.assign(new Error(real.message), { name: real.name, code: real.code, status: real.status })
  class LaunchDarklyError extends Error {
    name = 'LaunchDarklyError'
    code = 'ERR_LD_NOT_FOUND'
  }
  const lookAlikes = {
    'an Error with the name and code copied': copiedName,
    'a subclass named LaunchDarklyError': new LaunchDarklyError('x'),
    'a spread copy': { ...real },
    'a structured clone': structuredClone(real),
    'an object inheriting from one': Object.create(real),
    'a Proxy around one': new Proxy(real, {}),
    'a plain object': { name: 'LaunchDarklyError', code: 'ERR_LD_NOT_FOUND', message: 'x' },
    'a TypeError': new TypeError('x'),
    'a DOMException': new DOMException('x', 'AbortError'),
    'a ReleaseClient (a native object)': new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url }),
  }
  for (const [what, value] of Object.entries(lookAlikes)) assert.equal(isLaunchDarklyError(value), false, what)
})

test('false for non-errors, and it never throws', () => {
  const throwing = new Proxy(
    {},
    Object.fromEntries(['get', 'has', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'ownKeys'].map((trap) => [trap, () => assert.fail(`trap ${trap} called`)])),
  )
  const revocable = Proxy.revocable({}, {})
  revocable.revoke()
  const values = [undefined, null, 0, 1n, NaN, '', 'LaunchDarklyError', 'ERR_LD_NOT_FOUND', true, Symbol('x'), () => {}, [], {}, Promise.resolve(), throwing, revocable.proxy]
  for (const value of values) assert.equal(isLaunchDarklyError(value), false, String(typeof value))
  assert.equal(isLaunchDarklyError(), false)
})
