// A Worker terminated while its request is in flight must leave the main thread's
// client (and the addon's shared runtime) working.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { execFile } from 'node:child_process'
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

// A worker's calls end with it: terminating the worker cancels its bulk run and its single
// calls (they are not left running on the runtime the process shares), with no warning.
// Run in a child process, so its stderr can be read and the process shares the runtime
// between the main thread and the worker exactly as an application does.
test('terminating a worker cancels its requests, without warnings', async () => {
  const script = `
    const http = require('node:http')
    const { once } = require('node:events')
    const { Worker } = require('node:worker_threads')
    const addon = ${JSON.stringify(require.resolve('../index.js'))}
    const release = ${JSON.stringify(release)}
    // The main thread uses the addon too, so the shared runtime outlives the worker.
    require(addon)
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
    async function main() {
      let requests = 0
      const server = http.createServer((req, res) => {
        req.resume()
        requests++
        // Slow: 50 ms an answer, so the run is far from done when the worker goes.
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify(release))
        }, 50)
      })
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      const worker = new Worker(\`
        const { parentPort, workerData } = require('node:worker_threads')
        const { ReleaseClient, getRelease } = require(workerData.addon)
        const client = new ReleaseClient({ apiKey: 'api-worker-run', baseUrl: workerData.baseUrl, maxRetries: 0 })
        const items = Array.from({ length: 400 }, (_, i) => ({ projectKey: 'web', flagKey: 'f' + i, phase: 0 }))
        client.completePhases(items, { concurrency: 4, onProgress: () => {} }).catch(() => {})
        const signal = new AbortController().signal
        client.getRelease('web', 'single', { signal }).catch(() => {})
        getRelease('web', 'module', { apiKey: 'api-worker-run', baseUrl: workerData.baseUrl, signal }).catch(() => {})
        parentPort.postMessage('started')
      \`, { eval: true, workerData: { addon, baseUrl: 'http://127.0.0.1:' + server.address().port } })
      await once(worker, 'message')
      for (let i = 0; i < 500 && requests < 12; i++) await sleep(10)
      const before = requests
      await worker.terminate()
      await sleep(500) // requests already on their way may still land
      const settled = requests
      await sleep(1000)
      console.log(JSON.stringify({ before, settled, after: requests }))
      server.closeAllConnections()
      server.close()
    }
    main()
  `
  const { stdout, stderr } = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: 30_000 }, (error, stdout, stderr) =>
      error ? reject(Object.assign(error, { stderr })) : resolve({ stdout, stderr }),
    )
  })
  const { before, settled, after } = JSON.parse(stdout.trim())
  assert.ok(before >= 12, `the worker's run had started: ${before} requests`)
  assert.equal(after, settled, `no request after the worker was terminated (${settled} then ${after})`)
  assert.ok(settled < 400, `the run did not go on to the end: ${settled} requests`)
  assert.doesNotMatch(stderr, /ObjectRef|memory leak/, stderr)
  assert.equal(stderr, '')
})
