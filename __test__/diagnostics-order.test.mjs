// `ld-release:request` is published before the request is sent: a subscriber has seen
// every request before a server receives it, even while the JavaScript thread is busy
// (the requests then wait for it, instead of leaving unannounced).
import assert from 'node:assert/strict'
import dc from 'node:diagnostics_channel'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'

import { TOKEN, ld } from './helpers.mjs'

/** A server in a worker thread, which records when each request arrives (epoch ms, fractional). */
const SERVER = `
const { createServer } = require('node:http')
const { parentPort } = require('node:worker_threads')
const arrivals = []
const now = () => performance.timeOrigin + performance.now()
const server = createServer((req, res) => {
  arrivals.push({ url: req.url, at: now() })
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ name: 'R', releasePipelineKey: 'p', phases: [{ _id: 'a', _name: 'A', complete: false }] }))
  })
})
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }))
parentPort.on('message', () => {
  parentPort.postMessage({ arrivals })
  server.closeAllConnections()
  server.close()
})
`

test('every request is announced on ld-release:request before the server receives it, even with the JavaScript thread busy', async (t) => {
  const worker = new Worker(SERVER, { eval: true })
  t.after(() => worker.terminate())
  const message = () => new Promise((resolve) => worker.once('message', resolve))
  const { port } = await message()
  const announced = new Map()
  const onRequest = (event) => announced.set(new URL(event.url).pathname, performance.timeOrigin + performance.now())
  dc.subscribe('ld-release:request', onRequest)
  t.after(() => dc.unsubscribe('ld-release:request', onRequest))
  const client = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: `http://127.0.0.1:${port}`, maxRetries: 0 })
  t.after(() => client.close())
  for (let round = 0; round < 10; round++) {
    const calls = Array.from({ length: 30 }, (_, i) => client.getRelease('web', `r${round}-f${i}`))
    // The JavaScript thread is busy while the calls run.
    const until = Date.now() + 30
    while (Date.now() < until);
    await Promise.all(calls)
  }
  worker.postMessage('done')
  const { arrivals } = await message()
  assert.equal(arrivals.length, 300)
  const late = arrivals.filter(({ url, at }) => !(announced.get(url) <= at))
  assert.deepEqual(late.map((a) => a.url), [], 'no request reached the server before it was announced')
})

test('without a subscriber to ld-release:request, a request does not wait for a busy JavaScript thread', async (t) => {
  const worker = new Worker(SERVER, { eval: true })
  t.after(() => worker.terminate())
  const message = () => new Promise((resolve) => worker.once('message', resolve))
  const { port } = await message()
  // Subscribed to answers only: there is nothing to announce before the request.
  const answers = []
  const onResponse = (event) => answers.push(event)
  dc.subscribe('ld-release:response', onResponse)
  t.after(() => dc.unsubscribe('ld-release:response', onResponse))
  const client = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: `http://127.0.0.1:${port}`, maxRetries: 0 })
  t.after(() => client.close())
  const call = client.getRelease('web', 'busy')
  // The JavaScript thread is busy for 800 ms; the request goes out meanwhile.
  const freed = performance.timeOrigin + performance.now() + 800
  while (performance.timeOrigin + performance.now() < freed);
  await call
  worker.postMessage('done')
  const { arrivals } = await message()
  assert.equal(arrivals.length, 1)
  assert.ok(arrivals[0].at < freed, `the request arrived ${(arrivals[0].at - freed).toFixed(0)} ms after the thread was free`)
  assert.equal(answers.length, 1)
  assert.equal(answers[0].status, 200)
})
