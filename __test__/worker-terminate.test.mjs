// A Worker terminated while its request is in flight must leave the main thread's
// client (and the addon's shared runtime) working.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { ReleaseClient } = require('../index.js')

const release = {
  name: 'Standard rollout',
  releasePipelineKey: 'standard-rollout',
  releasePipelineDescription: '',
  _version: 4,
  phases: [{ _id: 'p0', _name: 'Testing', complete: true, _creationDate: 1764300000000, _audiences: [] }],
}

test('terminating a worker mid-request leaves the main thread working', async (t) => {
  let stalled = 0
  const server = http.createServer((req, res) => {
    req.resume()
    if (req.url.includes('/stall/')) {
      stalled++
      return // never answers: the worker is terminated while waiting
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(release))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  const baseUrl = `http://127.0.0.1:${server.address().port}`

  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads')
    const { ReleaseClient } = require(workerData.addon)
    const client = new ReleaseClient({ apiKey: 'api-worker', baseUrl: workerData.baseUrl })
    client.completePhase('web', 'stall', 0).catch(() => {})
    parentPort.postMessage('sent')
    `,
    { eval: true, workerData: { addon: require.resolve('../index.js'), baseUrl } },
  )
  const [message] = await once(worker, 'message')
  assert.equal(message, 'sent')
  // Wait until the server has the request, then terminate the worker under it.
  for (let i = 0; i < 200 && stalled === 0; i++) await new Promise((r) => setTimeout(r, 10))
  assert.equal(stalled, 1, 'the worker request reached the server')
  const code = await worker.terminate()
  assert.equal(code, 1)

  const client = new ReleaseClient({ apiKey: 'api-main', baseUrl, maxRetries: 0, timeoutMs: 5000 })
  const got = await client.completePhase('web', 'after', 0)
  assert.equal(got._version, 4)
  const again = await client.getRelease('web', 'after')
  assert.deepEqual(again, got)
})
