// Clients release their connections: close() (and Symbol.asyncDispose) closes them at
// once, a dropped client's idle connections close after a short keep-alive, and the file
// descriptors of the process come back to where they were. The module-level functions
// keep sharing one pool per set of client options.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { createServer } from 'node:http'
import { describe, test } from 'node:test'

import { TOKEN, ld, sampleRelease, sleep } from './helpers.mjs'

/** Open file descriptors of this process. */
const openFds = () => readdirSync('/proc/self/fd').length

/** A server on 127.0.0.1 answering every request with a release (after `delayMs`), counting the connections it holds. */
async function counting(t, { delayMs = 0 } = {}) {
  const state = { open: 0, accepted: 0 }
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () =>
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(sampleRelease()))
      }, delayMs),
    )
  })
  server.keepAliveTimeout = 60_000
  server.on('connection', (socket) => {
    state.open++
    state.accepted++
    socket.on('close', () => state.open--)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${server.address().port}`, state }
}

/** Waits until `done()` or `ms` have passed; returns `done()`. */
async function until(done, ms) {
  const end = Date.now() + ms
  while (!done() && Date.now() < end) await sleep(50)
  return done()
}

const options = (url, i = 0) => ({ apiKey: `${TOKEN}-${i}`, baseUrl: url, maxRetries: 0 })

// One at a time: each counts the descriptors of the whole process.
describe('connections are released', { concurrency: false }, () => {
  test('close(): many clients made, used and closed leave no socket and no descriptor behind', async (t) => {
    const { url, state } = await counting(t)
    // One client first, so that what the addon sets up once (its runtime) is in the baseline.
    const first = new ld.ReleaseClient(options(url))
    await first.getRelease('web', 'checkout')
    await first.close()
    assert.ok(await until(() => state.open === 0, 5000), 'the first client closed its connection')
    const baseline = openFds()
    for (let i = 1; i <= 200; i++) {
      const client = new ld.ReleaseClient(options(url, i))
      await client.getRelease('web', 'checkout')
      await client.close()
    }
    assert.ok(await until(() => state.open === 0, 5000), `every connection closed (${state.open} still open)`)
    assert.equal(state.accepted, 201, 'one connection per client')
    assert.ok(await until(() => openFds() <= baseline + 3, 5000), `descriptors back to the baseline: ${openFds()} against ${baseline}`)
  })

  test('dropped without close(): idle connections close after the keep-alive, before any garbage collection', async (t) => {
    const { url, state } = await counting(t)
    const baseline = openFds()
    // The clients are gone with this function's scope: nothing holds them.
    const useAndDrop = async () => {
      const clients = Array.from({ length: 100 }, (_, i) => new ld.ReleaseClient(options(url, 1000 + i)))
      await Promise.all(clients.map((c) => c.getRelease('web', 'checkout')))
    }
    await useAndDrop()
    assert.equal(state.open, 100)
    assert.ok(await until(() => state.open === 0, 15_000), `closed by the server's count: ${state.open} still open`)
    assert.ok(await until(() => openFds() <= baseline + 3, 5000), `descriptors back to the baseline: ${openFds()} against ${baseline}`)
  })

  test('a closed client rejects later calls, lists and bulk runs, sending nothing; closing twice is harmless', async (t) => {
    const { url, state } = await counting(t)
    const client = new ld.ReleaseClient(options(url))
    assert.equal(client[Symbol.asyncDispose], client.close, 'Symbol.asyncDispose is close')
    await client[Symbol.asyncDispose]()
    await client.close()
    for (const call of [
      () => client.getRelease('web', 'checkout'),
      () => client.completePhase('web', 'checkout', 0),
      () => client.completePhases([{ projectKey: 'web', flagKey: 'a', phase: 0 }]),
      () => client.listReleasePipelines('web').next(),
      () => client.advancePipeline('web', 'standard', 0),
      () => client.startPhase('web', 'checkout', 1, { dryRun: true }),
      () => client.completePhases([{ projectKey: 'web', flagKey: 'a', phase: 0 }], { dryRun: true }),
      () => client.getReleaseProgressionSummary('web', 'standard'),
      () => client.getFlag('web', 'checkout'),
      () => client.getEnvironmentRelease('web', 'checkout', 'production', 'r1'),
      () => client.listReleasePolicies('web'),
      () => client.listEnvironmentReleases('web', 'checkout', 'production').next(),
      () => client.watchEnvironmentRelease('web', 'checkout', 'production', 'r1').next(),
    ]) {
      const error = await call().then(() => null, (e) => e)
      assert.equal(error?.code, 'ERR_LD_INVALID_ARGUMENT')
      assert.match(error.message, /this ReleaseClient is closed/)
      assert.ok(ld.isLaunchDarklyError(error))
    }
    assert.equal(state.accepted, 0, 'nothing was sent')
  })

  test('a call in flight when close() is called finishes, then its connection closes', async (t) => {
    const { url, state } = await counting(t, { delayMs: 200 })
    const client = new ld.ReleaseClient(options(url))
    const inFlight = client.completePhase('web', 'checkout', 0)
    await until(() => state.accepted === 1, 2000)
    await client.close()
    const release = await inFlight
    assert.equal(release.name, sampleRelease().name, 'the write in flight is not cut short')
    assert.ok(await until(() => state.open === 0, 5000), 'its connection closed once it finished')
  })

  test('await using closes the client at the end of the block', async (t) => {
    const { url, state } = await counting(t)
    {
      // `await using` without the syntax, which Node 20 lacks: what it does.
      const client = new ld.ReleaseClient(options(url))
      try {
        await client.getRelease('web', 'checkout')
      } finally {
        await client[Symbol.asyncDispose]()
      }
    }
    assert.ok(await until(() => state.open === 0, 5000))
  })

  test('the module-level functions share one pool per set of client options', async (t) => {
    const { url, state } = await counting(t)
    const shared = { apiKey: `${TOKEN}-shared`, baseUrl: url, maxRetries: 0 }
    for (let i = 0; i < 5; i++) {
      await ld.getRelease('web', 'checkout', shared)
      // A connection goes back to its pool just after its answer is read: under load, a
      // call made at once may find it not back yet and open another.
      await sleep(50)
    }
    assert.equal(state.accepted, 1, 'one connection, reused')
    await ld.getRelease('web', 'checkout', { ...shared, apiKey: `${TOKEN}-other` })
    assert.equal(state.accepted, 2, 'other options, another pool')
    assert.ok(await until(() => state.open === 0, 15_000), 'their idle connections close after the keep-alive too')
  })
})
