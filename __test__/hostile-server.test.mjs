// Servers that misbehave on purpose, written here: redirects, echoed tokens in every
// encoding, and rate-limit headers that would hold a client for minutes or forever.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { TOKEN, assertNoSecret, assertNoSecretIn, expectLdError, failure, ld, sampleRelease } from './helpers.mjs'

const CLI = fileURLToPath(new URL('../bin/ld-release.js', import.meta.url))

/**
 * A server on 127.0.0.1 answering with `answer(req, body)` (`{ status, headers, body }`,
 * a string body sent as is), recording `{ method, url, body }` of each request.
 */
async function hostile(t, answer) {
  const requests = []
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      requests.push({ method: req.method, url: req.url, body })
      const out = answer(req, body)
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json', ...out.headers })
      res.end(typeof out.body === 'string' ? out.body : JSON.stringify(out.body ?? sampleRelease()))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${server.address().port}`, port: server.address().port, requests }
}

const clientFor = (server, options = {}) =>
  new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url, maxRetries: 0, timeoutMs: 5000, ...options })

describe('redirects are never followed', { concurrency: true }, () => {
  const CODES = [300, 301, 302, 303, 304, 305, 307, 308]
  // Each call, the method it must arrive with, and whether it writes.
  const CALLS = [
    ['patchRelease', 'PATCH', true, (c) => c.patchRelease('web', 'checkout', ld.phasePatch(0, true))],
    ['patchRelease with methodOverride', 'POST', true, (c) => c.patchRelease('web', 'checkout', ld.phasePatch(0, true)), { methodOverride: true }],
    // A phase change reads the release first: the redirect ends it before any write.
    ['completePhase', 'GET', false, (c) => c.completePhase('web', 'checkout', 0)],
    ['createRelease', 'PUT', true, (c) => c.createRelease('web', 'checkout', { releasePipelineKey: 'standard' })],
    ['deleteRelease', 'DELETE', true, (c) => c.deleteRelease('web', 'checkout')],
    ['getRelease', 'GET', false, (c) => c.getRelease('web', 'checkout')],
  ]

  for (const status of CODES) {
    test(`${status}: an error for every call, nothing sent to the Location`, async (t) => {
      const target = await hostile(t, () => ({ body: sampleRelease() }))
      const location = `http://user:pw-in-location@127.0.0.1:${target.port}/api/v2/flags/web/checkout/release?sig=abc`
      const origin = await hostile(t, () => ({ status, headers: { location }, body: 'Found. Redirecting…' }))
      for (const [name, method, write, call, options] of CALLS) {
        origin.requests.length = 0
        const error = await expectLdError(() => call(clientFor(origin, options)), { code: 'ERR_LD_HTTP', status, attempts: 1 })
        assert.equal(origin.requests.length, 1, `${name}: one request`)
        assert.equal(origin.requests[0].method, method, `${name} is sent as ${method}, never turned into another method`)
        assert.match(error.message, new RegExp(`^LaunchDarkly answered ${status} `), name)
        assert.ok(error.message.includes(`redirect to http://127.0.0.1:${target.port};`), `${name}: ${error.message}`)
        assert.match(error.message, /redirects are not followed/)
        assert.doesNotMatch(error.message, /pw-in-location|user:|sig=abc|Redirecting/, 'neither credentials, path nor body of the Location are quoted')
        assert.equal(/may or may not have been applied/.test(error.message), write, `${name}: ${error.message}`)
      }
      assert.equal(target.requests.length, 0, 'nothing reached the redirect target')
    })
  }

  test('a redirect without a Location, and one a bulk run meets, are errors too', async (t) => {
    const origin = await hostile(t, (req) => (req.url.includes('/moved/') ? { status: 308, headers: { location: '/elsewhere' } } : { status: 304 }))
    const c = clientFor(origin)
    const error = await expectLdError(() => c.getRelease('web', 'checkout'), { code: 'ERR_LD_HTTP', status: 304 })
    assert.match(error.message, /a redirect without a Location/)
    const results = await c.completePhases([
      { projectKey: 'web', flagKey: 'moved', phase: 0 },
      { projectKey: 'web', flagKey: 'checkout', phase: 1 },
    ])
    assert.deepEqual(
      results.map((r) => [r.ok, r.error?.code, r.error?.status]),
      [
        [false, 'ERR_LD_HTTP', 308],
        [false, 'ERR_LD_HTTP', 304],
      ],
    )
    assert.ok(results[0].error.message.includes(`redirect to ${origin.url};`), results[0].error.message)
    assert.deepEqual(
      origin.requests.map((r) => r.method),
      ['GET', 'GET', 'GET'],
    )
  })
})

const json = (text) => JSON.stringify(text).slice(1, -1)
const jsonEscaped = (text) => [...text].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')
const percent = (text) => [...Buffer.from(text)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('')

/** The token as a hostile server might echo it, each as it would appear in a JSON string. */
const ECHOES = {
  raw: json(TOKEN),
  'JSON-escaped': jsonEscaped(TOKEN),
  'JSON-escaped twice': json(jsonEscaped(TOKEN)),
  'percent-encoded': percent(TOKEN),
  'percent-encoded twice': percent(TOKEN).replaceAll('%', '%25'),
  'HTML references': [...TOKEN].map((c) => `&#${c.charCodeAt(0)};`).join(''),
  'cut short (start)': json(TOKEN.slice(0, 14)),
  'cut short (end)': json(TOKEN.slice(-10)),
  mixed: json(TOKEN.slice(0, 10)) + percent(TOKEN.slice(10, 20)) + jsonEscaped(TOKEN.slice(20)),
}

/** A server answering each kind of request with `echo` in the place its path names. */
function echoing(echo) {
  return (req) => {
    const place = req.url.split('/')[5] // /api/v2/flags/web/<place>/release
    if (place === 'api-error') {
      return { status: 400, body: `{"code":"${echo}","message":"token ${echo} may not do this"}` }
    }
    if (place === 'html') {
      return { status: 502, headers: { 'content-type': 'text/html' }, body: `<html><body><pre>${'x'.repeat(150)} ${echo}</pre></body></html>` }
    }
    // A 2xx body that is not JSON: ERR_LD_DECODE quotes its start in `bodyExcerpt`.
    if (place === 'decode') return { body: `{"name":"r","releasePipelineKey":"k","_version":"${echo}","phases":[` }
    if (place === 'phase-name') {
      const release = sampleRelease()
      return { body: JSON.stringify(release).replace(`"_name":"${release.phases[0]._name}"`, `"_name":"${echo}"`) }
    }
    return { status: 404, body: `{"code":"not_found","message":"no flag ${echo}"}` }
  }
}

describe('an echoed token is masked in every encoding and every place', { concurrency: true }, () => {
  for (const [shape, echo] of Object.entries(ECHOES)) {
    test(`${shape}`, async (t) => {
      const server = await hostile(t, echoing(echo))
      const c = clientFor(server)
      const calls = [
        () => c.completePhase('web', 'api-error', 0),
        () => c.getRelease('web', 'html'),
        () => c.getRelease('web', 'decode'),
        () => c.completePhase('web', 'phase-name', { name: 'NoSuchPhase' }),
        () => ld.getRelease('web', 'api-error', { apiKey: TOKEN, baseUrl: server.url, maxRetries: 0 }),
      ]
      for (const call of calls) {
        const error = await failure(call)
        assert.equal(error.name, 'LaunchDarklyError', String(error))
        assertNoSecret(error)
      }
      const results = await c.completePhases(['api-error', 'html', 'missing'].map((flagKey) => ({ projectKey: 'web', flagKey, phase: 0 })))
      for (const result of results) {
        assert.equal(result.ok, false)
        assertNoSecret(result.error)
      }
      assertNoSecretIn(JSON.stringify(results.map((r) => ({ ...r.error, message: r.error.message }))), 'bulk results')
    })
  }

  test('the CLI prints no piece of an echoed token, on stderr or in complete-many --json', async (t) => {
    const echo = ECHOES.mixed
    const server = await hostile(t, echoing(echo))
    const dir = mkdtempSync(join(tmpdir(), 'ld-release-hostile-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const items = join(dir, 'items.json')
    writeFileSync(items, JSON.stringify(['api-error', 'html', 'decode'].map((flagKey) => ({ projectKey: 'web', flagKey, phase: 0 }))))
    const env = { ...process.env, LD_ACCESS_TOKEN: TOKEN, LD_BASE_URI: server.url, NO_COLOR: '1' }
    const run = (args) =>
      new Promise((resolve) => {
        execFile(process.execPath, [CLI, ...args, '--retries', '0'], { env, timeout: 20_000 }, (error, stdout, stderr) =>
          resolve({ code: error?.code ?? 0, stdout, stderr }),
        )
      })
    for (const args of [
      ['complete', 'web', 'api-error', '0'],
      ['status', 'web', 'html'],
      ['complete', 'web', 'phase-name', 'NoSuchPhase'],
      ['complete-many', '--file', items, '--json'],
      ['complete-many', '--file', items],
    ]) {
      const { code, stdout, stderr } = await run(args)
      assert.notEqual(code, 0, `${args.join(' ')} fails: ${stderr}`)
      assert.ok(stdout.length + stderr.length > 0)
      assertNoSecretIn(stdout, `stdout of ${args.join(' ')}`)
      assertNoSecretIn(stderr, `stderr of ${args.join(' ')}`)
    }
  })
})

describe('the rate-limit gate never holds a call without bound', { concurrency: true }, () => {
  /** A server whose first answer carries `headers(Date.now())`, and later ones none. */
  async function limiting(t, headers) {
    let first = true
    return hostile(t, () => {
      const out = { headers: first ? headers(Date.now()) : {} }
      first = false
      return out
    })
  }

  test('a reset ten minutes ahead fails later calls at once with ERR_LD_RATE_LIMITED', async (t) => {
    const server = await limiting(t, (now) => ({ 'X-Ratelimit-Route-Remaining': '0', 'X-Ratelimit-Reset': String(now + 600_000) }))
    const c = clientFor(server, { maxRetries: 3 })
    await c.getRelease('web', 'checkout')
    const started = Date.now()
    for (const call of [() => c.completePhase('web', 'checkout', 0), () => c.getRelease('web', 'checkout', { timeoutMs: 100_000 })]) {
      const error = await expectLdError(call, { code: 'ERR_LD_RATE_LIMITED', attempts: 0, status: undefined })
      assert.ok(error.retryAfterMs > 590_000 && error.retryAfterMs <= 600_100, `retryAfterMs ${error.retryAfterMs}`)
      assert.match(error.message, /was not sent: .*longer than the 60 s a call waits/)
    }
    assert.ok(Date.now() - started < 5000, 'no wait')
    assert.equal(server.requests.length, 1, 'nothing more was sent')
  })

  test('module-level calls share the limit and fail at once too', async (t) => {
    const server = await limiting(t, (now) => ({ 'X-Ratelimit-Global-Remaining': '0', 'X-Ratelimit-Reset': String(now + 120_000) }))
    const options = { apiKey: TOKEN, baseUrl: server.url, maxRetries: 0, userAgent: 'hostile-gate' }
    await ld.getRelease('web', 'checkout', options)
    const error = await expectLdError(() => ld.completePhase('web', 'checkout', 0, options), { code: 'ERR_LD_RATE_LIMITED', attempts: 0 })
    assert.ok(error.retryAfterMs > 60_000, `retryAfterMs ${error.retryAfterMs}`)
    assert.equal(server.requests.length, 1)
  })

  const NONSENSE = { 'u64::MAX': () => '18446744073709551615', 'three hours ahead': (now) => String(now + 3 * 3_600_000), 'soon': () => 'soon', '1.7e12': () => '1.7e12', '-1': () => '-1' }
  for (const [name, reset] of Object.entries(NONSENSE)) {
    test(`a nonsense reset (${name}) is ignored`, async (t) => {
      const server = await limiting(t, (now) => ({ 'X-Ratelimit-Route-Remaining': '0', 'X-Ratelimit-Reset': reset(now) }))
      const c = clientFor(server)
      await c.getRelease('web', 'checkout')
      const started = Date.now()
      await c.patchRelease('web', 'checkout', ld.phasePatch(0, true))
      await c.getRelease('web', 'checkout')
      assert.ok(Date.now() - started < 5000, 'no wait')
      assert.equal(server.requests.length, 3)
    })
  }

  test('the gate’s wait ends with the call’s signal and counts toward no timeout', async (t) => {
    const server = await limiting(t, (now) => ({ 'X-Ratelimit-Route-Remaining': '0', 'X-Ratelimit-Reset': String(now + 3000) }))
    const c = clientFor(server)
    await c.getRelease('web', 'checkout')
    const controller = new AbortController()
    setTimeout(() => controller.abort('stop'), 100)
    const started = Date.now()
    const aborted = await failure(() => c.completePhase('web', 'checkout', 0, { signal: controller.signal }))
    assert.equal(aborted.name, 'AbortError')
    assert.equal(aborted.cause, 'stop')
    assert.ok(Date.now() - started < 2500, 'ended before the reset')
    assert.equal(server.requests.length, 1, 'the aborted call sent nothing')
    // Held past its own 200 ms timeout by the gate, the next call still succeeds.
    const release = await c.getRelease('web', 'checkout', { timeoutMs: 200 })
    assert.equal(release._version, sampleRelease()._version)
    assert.ok(Date.now() - started >= 2000, 'it waited for the reset')
    assert.equal(server.requests.length, 2)
  })
})
