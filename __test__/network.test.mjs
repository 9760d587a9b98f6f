// Corporate networks: HTTPS_PROXY / HTTP_PROXY / NO_PROXY and NODE_EXTRA_CA_CERTS, against
// a local TLS server (certificate from a test CA in __test__/fixtures) and a local forward
// proxy. Each case runs in a child process with exactly the environment it names.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { once } from 'node:events'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const addon = fileURLToPath(new URL('../index.js', import.meta.url))
const release = {
  name: 'Standard rollout',
  releasePipelineKey: 'standard-rollout',
  releasePipelineDescription: '',
  _version: 7,
  phases: [],
}

function answer(req, res) {
  req.resume()
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify(release))
}

async function listen(server) {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return server.address().port
}

function closeAll(...servers) {
  for (const server of servers) {
    server.closeAllConnections?.()
    server.close()
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/**
 * A forward proxy: tunnels CONNECT, forwards absolute-URI requests; logs what it saw. It
 * goes only to loopback hosts: anything else is logged and answered 502.
 */
function startProxy(seen) {
  const proxy = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`)
    const target = new URL(req.url)
    if (!LOOPBACK.has(target.hostname)) {
      res.writeHead(502).end()
      return
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode, up.headers)
        up.pipe(res)
      },
    )
    req.pipe(upstream)
  })
  const sockets = new Set()
  proxy.on('connect', (req, client, head) => {
    seen.push(`CONNECT ${req.url}`)
    const [host, port] = req.url.split(':')
    if (!LOOPBACK.has(host)) {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n')
      return
    }
    const upstream = net.connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {})
    }
  })
  proxy.on('close', () => sockets.forEach((s) => s.destroy()))
  return proxy
}

// What any child needs to start (SYSTEMROOT on Windows), and nothing about proxies or CAs.
const baseEnv = Object.fromEntries(['PATH', 'SYSTEMROOT'].filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]))

/** Runs getRelease in a child with only `env` (plus PATH); resolves to its JSON line. */
function fetchInChild(baseUrl, env) {
  const script = `
    const { getRelease } = require(${JSON.stringify(addon)})
    getRelease('web', 'checkout', { apiKey: 'api-network-test', baseUrl: ${JSON.stringify(baseUrl)}, maxRetries: 0, timeoutMs: 5000 })
      .then((r) => console.log(JSON.stringify({ ok: true, version: r._version })))
      .catch((e) => console.log(JSON.stringify({ ok: false, code: e.code, message: e.message })))
  `
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { env: { ...baseEnv, ...env }, timeout: 15_000 }, (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout.trim())),
    )
  })
}

test('NODE_EXTRA_CA_CERTS adds a private CA to the system roots', async (t) => {
  const tls = https.createServer({ cert: readFileSync(fixture('server.pem')), key: readFileSync(fixture('server-key.pem')) }, answer)
  const port = await listen(tls)
  t.after(() => closeAll(tls))

  const trusted = await fetchInChild(`https://localhost:${port}`, { NODE_EXTRA_CA_CERTS: fixture('ca.pem') })
  assert.deepEqual(trusted, { ok: true, version: 7 })

  const untrusted = await fetchInChild(`https://localhost:${port}`, {})
  assert.equal(untrusted.ok, false)
  assert.equal(untrusted.code, 'ERR_LD_NETWORK')
  assert.match(untrusted.message, new RegExp(`: connecting to localhost:${port} failed: .*(certificate|UnknownIssuer)`, 'i'))
})

test('HTTPS_PROXY tunnels https requests through the proxy', async (t) => {
  const seen = []
  const tls = https.createServer({ cert: readFileSync(fixture('server.pem')), key: readFileSync(fixture('server-key.pem')) }, answer)
  const proxy = startProxy(seen)
  const [tlsPort, proxyPort] = [await listen(tls), await listen(proxy)]
  t.after(() => closeAll(tls, proxy))

  const result = await fetchInChild(`https://localhost:${tlsPort}`, {
    HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`,
    NODE_EXTRA_CA_CERTS: fixture('ca.pem'),
  })
  assert.deepEqual(result, { ok: true, version: 7 })
  assert.deepEqual(seen, [`CONNECT localhost:${tlsPort}`])
})

test('HTTP_PROXY forwards http requests, and NO_PROXY bypasses it', async (t) => {
  const seen = []
  const plain = http.createServer(answer)
  const proxy = startProxy(seen)
  const [port, proxyPort] = [await listen(plain), await listen(proxy)]
  t.after(() => closeAll(plain, proxy))
  const baseUrl = `http://127.0.0.1:${port}`

  const proxied = await fetchInChild(baseUrl, { HTTP_PROXY: `http://127.0.0.1:${proxyPort}` })
  assert.deepEqual(proxied, { ok: true, version: 7 })
  assert.deepEqual(seen, [`GET ${baseUrl}/api/v2/flags/web/checkout/release`])

  seen.length = 0
  const direct = await fetchInChild(baseUrl, { HTTP_PROXY: `http://127.0.0.1:${proxyPort}`, NO_PROXY: '127.0.0.1' })
  assert.deepEqual(direct, { ok: true, version: 7 })
  assert.deepEqual(seen, [])
})

test('a network error names the host, the port and the proxy, never the proxy’s credentials', async () => {
  const dead = http.createServer()
  const deadPort = await listen(dead)
  await new Promise((resolve) => dead.close(resolve))
  const viaProxy = await fetchInChild('https://localhost:1', { HTTPS_PROXY: `http://proxy-user:proxy-secret-77@127.0.0.1:${deadPort}` })
  assert.equal(viaProxy.ok, false)
  assert.equal(viaProxy.code, 'ERR_LD_NETWORK')
  assert.ok(
    viaProxy.message.startsWith(`GET /api/v2/flags/web/checkout/release: connecting to localhost:1 through the proxy http://127.0.0.1:${deadPort} failed: `),
    viaProxy.message,
  )
  assert.doesNotMatch(viaProxy.message, /proxy-user|proxy-secret/)

  const direct = await fetchInChild(`http://127.0.0.1:${deadPort}`, {})
  assert.equal(direct.code, 'ERR_LD_NETWORK')
  assert.match(direct.message, new RegExp(`: connecting to 127\\.0\\.0\\.1:${deadPort} failed: .*refused`, 'i'))
})

test('a redirect from a TLS server to plain http: on another host is not followed, through proxies either', async (t) => {
  const seen = []
  const origin = https.createServer({ cert: readFileSync(fixture('server.pem')), key: readFileSync(fixture('server-key.pem')) }, (req, res) => {
    req.resume()
    seen.push(`origin ${req.method} ${req.url}`)
    res.writeHead(307, { location: 'http://ld-release-redirect.invalid/api/v2/flags/web/checkout/release' })
    res.end()
  })
  const proxy = startProxy(seen)
  const [port, proxyPort] = [await listen(origin), await listen(proxy)]
  t.after(() => closeAll(origin, proxy))
  const script = `
    const { ReleaseClient } = require(${JSON.stringify(addon)})
    const client = new ReleaseClient({ apiKey: 'api-network-test', baseUrl: 'https://localhost:${port}', maxRetries: 0, timeoutMs: 5000 })
    const settle = (p) => p.then(() => ({ ok: true }), (e) => ({ ok: false, code: e.code, status: e.status, message: e.message }))
    Promise.all([settle(client.patchRelease('web', 'checkout', [{ op: 'replace', path: '/phases/0/complete', value: true }])), settle(client.getRelease('web', 'checkout'))])
      .then((results) => console.log(JSON.stringify(results)))
  `
  const proxyUrl = `http://127.0.0.1:${proxyPort}`
  const env = { ...baseEnv, HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, NODE_EXTRA_CA_CERTS: fixture('ca.pem') }
  const results = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { env, timeout: 15_000 }, (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout.trim()))))
  })
  for (const result of results) {
    assert.equal(result.ok, false)
    assert.equal(result.code, 'ERR_LD_HTTP')
    assert.equal(result.status, 307)
    assert.match(result.message, /redirect to http:\/\/ld-release-redirect\.invalid; redirects are not followed/)
  }
  // Only tunnels to the origin (one per connection) and the two requests in them:
  // nothing for the redirect's host.
  assert.deepEqual([...new Set(seen.filter((line) => !line.startsWith('origin')))], [`CONNECT localhost:${port}`])
  assert.deepEqual(seen.filter((line) => line.startsWith('origin')).sort(), [
    'origin GET /api/v2/flags/web/checkout/release',
    'origin PATCH /api/v2/flags/web/checkout/release',
  ])
})
