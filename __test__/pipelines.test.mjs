// Release pipelines and progressions in the library: reading and changing pipelines,
// listing pipelines and the flags in a pipeline a page at a time, and advancePipeline,
// against the fake LaunchDarkly and against servers written here.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { TOKEN, assertLdError, assertNoSecretIn, client, expectLdError, fake, ld, sleep } from './helpers.mjs'

const { sampleRelease, sampleNewPipelineRelease, samplePipeline, sampleNewPipeline } = createRequire(import.meta.url)('../testing/index.js')

const LIST = '/api/v2/projects/web/release-pipelines'
const progressionsPath = (pipelineKey) => `${LIST}/${pipelineKey}/releases`
const LEGACY = 'standard-rollout'
const NEW = 'progressive-rollout'
const LEGACY_IDS = sampleRelease().phases.map((p) => p._id)
const NEW_IDS = sampleNewPipelineRelease().phases.map((p) => p._id)
const releasePath = (flagKey) => `/api/v2/flags/web/${flagKey}/release`
const phasePath = (flagKey, id) => `/api/v2/projects/web/flags/${flagKey}/release/phases/${id}`

/** A release of the legacy sample pipeline whose first `done` phases are complete (3: finished). */
function legacyAt(done) {
  const release = sampleRelease()
  release.phases.forEach((phase, i) => {
    if (i < done) Object.assign(phase, { complete: true, status: 'Complete', started: true, _startedDate: 1764303600000 + i, _completionDate: 1764400000000 + i })
    if (i === done) Object.assign(phase, { status: 'Started', started: true, _startedDate: 1764303600000 + i })
  })
  return release
}

/** A release of the new sample pipeline whose phase `at` is active, every phase before it completed. */
function newAt(at) {
  const release = sampleNewPipelineRelease()
  release.phases.forEach((phase, i) => {
    if (i < at) Object.assign(phase, { complete: true, status: 'completed', started: true, _startedDate: 1766084905114 + i, _completionDate: 1766090000000 + i })
    if (i === at) Object.assign(phase, { status: 'active', started: true, _startedDate: 1766084905114 + i })
    if (i > at) Object.assign(phase, { status: 'not-started', started: false })
  })
  return release
}

const flagsOf = (spec) => Object.entries(spec).map(([flagKey, release]) => ({ projectKey: 'web', flagKey, release }))

/** `{ method, path, query }` of the requests `server` received, the query parsed. */
const sent = (server) =>
  server.requests.map((q) => {
    const url = new URL(q.url ?? q.path, 'http://x') // serve() keeps the query in url; the fake, in path
    return { method: q.method, path: url.pathname, query: url.searchParams, body: q.body }
  })
/** The page requests sent to `path`. */
const pages = (server, path) => sent(server).filter((q) => q.method === 'GET' && q.path === path)
const writes = (server) => sent(server).filter((q) => q.method !== 'GET')

/**
 * A server on 127.0.0.1 answering with `answer(request)` (`{ status, body }`, possibly
 * after a wait), recording `{ method, path, url, headers, body }` for each request.
 */
async function serve(t, answer) {
  const requests = []
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', async () => {
      const url = new URL(req.url, 'http://x')
      const request = { method: req.method, url: req.url, path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      requests.push(request)
      const out = await answer(request)
      if (res.destroyed) return
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json' })
      res.end(typeof out.body === 'string' ? out.body : JSON.stringify(out.body))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${server.address().port}`, apiKey: TOKEN, requests }
}

/** A page of `all` as LaunchDarkly answers `limit`/`offset`, with `totalCount` unless `total` is false. */
function page(all, query, { total = true, extra = {} } = {}) {
  const limit = Number(query.get('limit') ?? 20)
  const offset = Number(query.get('offset') ?? 0)
  return { items: all.slice(offset, offset + limit), ...(total ? { totalCount: all.length } : {}), ...extra }
}

/** A validation function for `assert.rejects`: a LaunchDarklyError with `expected` properties. */
const ldError = (expected) => (error) => {
  assertLdError(error, expected)
  return true
}

/** The query parameters of a page request, as numbers. */
const limitOf = (q) => Number(q.query.get('limit'))
const offsetOf = (q) => Number(q.query.get('offset'))

test('getReleasePipeline resolves to each kind of pipeline exactly as the server sent it', async (t) => {
  const server = await fake(t)
  const c = client(server)
  for (const expected of [samplePipeline(), sampleNewPipeline()]) {
    server.clearRequests()
    const pipeline = await c.getReleasePipeline('web', expected.key)
    assert.deepEqual(pipeline, expected)
    assert.deepEqual(
      sent(server).map((q) => `${q.method} ${q.path}`),
      [`GET ${LIST}/${expected.key}`],
    )
    assert.equal(server.requests[0].headers['ld-api-version'], 'beta')
    assert.equal(server.requests[0].headers.authorization, TOKEN)
  }
  assert.equal((await c.getReleasePipeline('web', LEGACY))._isLegacy, true)
  assert.equal((await c.getReleasePipeline('web', NEW))._isLegacy, false)
  // A key is one path segment; an unknown pipeline is a 404.
  server.clearRequests()
  await expectLdError(() => c.getReleasePipeline('web', 'a/b?c'), { code: 'ERR_LD_NOT_FOUND', status: 404 })
  assert.equal(server.requests[0].path, `${LIST}/a%2Fb%3Fc`)
  // Bad arguments are refused before anything is sent.
  server.clearRequests()
  const bad = await expectLdError(() => c.getReleasePipeline('web', ''), { code: 'ERR_LD_INVALID_ARGUMENT' })
  assert.match(bad.message, /pipelineKey/)
  await expectLdError(() => c.getReleasePipeline(42, LEGACY), { code: 'ERR_LD_INVALID_ARGUMENT' })
  assert.equal(server.requests.length, 0)
})

test('createReleasePipeline, updateReleasePipeline and deleteReleasePipeline send their bodies and resolve to the answers', async (t) => {
  const server = await fake(t)
  const c = client(server)
  const input = {
    key: 'canary',
    name: 'Canary',
    description: 'One environment, then the rest',
    phases: [
      { name: 'Canary', audiences: [{ environmentKey: 'canary', name: 'Canary', segmentKeys: ['beta-users'], configuration: { releaseStrategy: 'immediate-rollout', requireApproval: true } }] },
      { name: 'Everyone', audiences: [{ environmentKey: 'production', name: 'Production' }], configuration: {} },
    ],
    tags: ['team-web'],
  }
  const created = await c.createReleasePipeline('web', input)
  const [post] = sent(server)
  assert.deepEqual([post.method, post.path], ['POST', LIST])
  assert.deepEqual(JSON.parse(post.body), input)
  assert.equal(created.key, 'canary')
  assert.equal(created._isLegacy, false, 'a new pipeline unless isLegacy says otherwise')
  assert.deepEqual(created.phases.map((p) => p.name), ['Canary', 'Everyone'])
  assert.deepEqual(created.phases[0].audiences[0].segmentKeys, ['beta-users'])
  assert.deepEqual(await c.getReleasePipeline('web', 'canary'), created)

  const legacy = await c.createReleasePipeline('web', { key: 'old-style', name: 'Old style', phases: input.phases.slice(1), isLegacy: true })
  assert.equal(legacy._isLegacy, true)
  assert.deepEqual(JSON.parse(server.requests.at(-1).body), { key: 'old-style', name: 'Old style', phases: input.phases.slice(1), isLegacy: true })
  await expectLdError(() => c.createReleasePipeline('web', input), { code: 'ERR_LD_CONFLICT', status: 409 })

  server.clearRequests()
  const change = { name: 'Canary first', phases: input.phases.slice(0, 1) }
  const updated = await c.updateReleasePipeline('web', 'canary', change)
  assert.deepEqual(
    sent(server).map((q) => [q.method, q.path, JSON.parse(q.body)]),
    [['PUT', `${LIST}/canary`, change]],
  )
  assert.equal(updated.name, 'Canary first')
  assert.equal(updated.phases.length, 1)
  assert.equal(updated._version, 1)

  server.clearRequests()
  assert.equal(await c.deleteReleasePipeline('web', 'canary'), undefined)
  assert.deepEqual(
    sent(server).map((q) => `${q.method} ${q.path}`),
    [`DELETE ${LIST}/canary`],
  )
  await expectLdError(() => c.getReleasePipeline('web', 'canary'), { code: 'ERR_LD_NOT_FOUND' })
  // The project's default pipeline cannot be deleted: the server's 400 is reported.
  await expectLdError(() => c.deleteReleasePipeline('web', LEGACY), { code: 'ERR_LD_BAD_REQUEST', status: 400 })

  // Bad input is refused by its path, before anything is sent.
  server.clearRequests()
  const missing = await expectLdError(() => c.createReleasePipeline('web', { key: 'x', name: 'X' }), { code: 'ERR_LD_INVALID_ARGUMENT' })
  assert.match(missing.message, /phases/)
  const misspelt = await expectLdError(() => c.createReleasePipeline('web', { ...input, key: 'y', phazes: [] }), { code: 'ERR_LD_INVALID_ARGUMENT' })
  assert.match(misspelt.message, /phazes/)
  await expectLdError(() => c.updateReleasePipeline('web', 'canary', { name: 'No phases' }), { code: 'ERR_LD_INVALID_ARGUMENT' })
  await expectLdError(() => c.updateReleasePipeline('web', '', change), { code: 'ERR_LD_INVALID_ARGUMENT' })
  await expectLdError(() => c.deleteReleasePipeline('', 'canary'), { code: 'ERR_LD_INVALID_ARGUMENT' })
  assert.equal(server.requests.length, 0)
})

test('listReleasePipelines pages lazily: a page is fetched only when the caller needs it', async (t) => {
  const all = Array.from({ length: 123 }, (_, i) => ({ key: `p${i}`, name: `Pipeline ${i}`, phases: [{ id: `id-${i}`, name: 'Only' }], _isLegacy: i % 2 === 0, fieldUnknownHere: { i } }))
  const server = await serve(t, (q) => ({ body: page(all, q.query) }))
  const iterator = client(server).listReleasePipelines('web')[Symbol.asyncIterator]()
  await sleep(50)
  assert.equal(server.requests.length, 0, 'nothing is fetched before the first next()')
  const first = await iterator.next()
  assert.deepEqual(first, { done: false, value: all[0] }, 'each pipeline exactly as sent')
  assert.equal(server.requests.length, 1)
  const limit = limitOf(server.requests[0])
  assert.ok(limit >= 1 && limit < all.length, `page size ${limit}`)
  const seen = [first.value]
  for (let i = 1; i < limit; i++) seen.push((await iterator.next()).value)
  assert.equal(server.requests.length, 1, 'a whole page is served from the first request')
  seen.push((await iterator.next()).value)
  assert.equal(server.requests.length, 2, 'the next page is fetched when the first is used up')
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) seen.push(r.value)
  assert.deepEqual(seen, all)
  assert.deepEqual(await iterator.next(), { done: true, value: undefined })

  const expected = Math.ceil(all.length / limit)
  assert.equal(server.requests.length, expected, 'totalCount ends the list: no request for an empty page')
  server.requests.forEach((q, i) => {
    assert.equal(q.path, LIST)
    assert.equal(limitOf(q), limit)
    assert.equal(offsetOf(q), i * limit)
    assert.equal(q.headers['ld-api-version'], 'beta')
    assert.equal(q.headers.authorization, TOKEN)
  })
})

test('listReleasePipelines against the fake: every pipeline, in order, created ones too', async (t) => {
  const server = await fake(t)
  const c = client(server)
  for (let i = 0; i < 5; i++) await c.createReleasePipeline('web', { key: `extra-${i}`, name: `Extra ${i}`, phases: [{ name: 'One', audiences: [{ environmentKey: 'test', name: 'Test' }] }] })
  const listed = []
  for await (const pipeline of c.listReleasePipelines('web')) listed.push(pipeline)
  assert.deepEqual(listed.map((p) => p.key), [LEGACY, NEW, 'extra-0', 'extra-1', 'extra-2', 'extra-3', 'extra-4'])
  assert.deepEqual(listed[0], samplePipeline())
  assert.deepEqual(listed[1], sampleNewPipeline())
  // Another project has the two sample pipelines of its own.
  const other = []
  for await (const pipeline of c.listReleasePipelines('mobile')) other.push(pipeline.key)
  assert.deepEqual(other, [LEGACY, NEW])
})

test('a server that sends shorter pages than asked, or no totalCount, is read to the end, each offset after what came', async (t) => {
  const all = Array.from({ length: 27 }, (_, i) => ({ key: `p${i}`, name: `P${i}`, phases: [] }))
  let withTotal = true
  // At most 10 items a page, whatever the limit asked.
  const server = await serve(t, (q) => ({ body: page(all, new URLSearchParams({ offset: q.query.get('offset'), limit: String(Math.min(10, limitOf(q))) }), { total: withTotal }) }))
  const c = client(server)
  const keys = async () => {
    const out = []
    for await (const pipeline of c.listReleasePipelines('web')) out.push(pipeline.key)
    return out
  }
  assert.deepEqual(await keys(), all.map((p) => p.key))
  assert.deepEqual(server.requests.map(offsetOf), [0, 10, 20], 'totalCount ends the list after the last item')

  // Without totalCount, the list ends at the first empty page, and nothing is fetched past it.
  withTotal = false
  server.requests.length = 0
  assert.deepEqual(await keys(), all.map((p) => p.key))
  assert.deepEqual(server.requests.map(offsetOf), [0, 10, 20, 27])
})

test('progressions: every flag in the pipeline across several pages, with its active phase', async (t) => {
  // 130 flags of the legacy pipeline, at every phase and finished; some of the new
  // pipeline, and some in another project: only the first are listed.
  const spec = {}
  for (let i = 0; i < 130; i++) spec[`flag-${String(i).padStart(3, '0')}`] = legacyAt(i % 4)
  const releases = flagsOf(spec)
  releases.push(...flagsOf({ elsewhere: newAt(0) }), { projectKey: 'mobile', flagKey: 'flag-000', release: legacyAt(0) })
  const server = await fake(t, { releases })
  const listed = []
  for await (const progression of client(server).listReleaseProgressions('web', LEGACY)) listed.push(progression)
  assert.deepEqual(listed.map((p) => p.flagKey), Object.keys(spec))
  listed.forEach((p, i) => {
    const at = i % 4
    if (at < 3) {
      assert.equal(p.activePhaseId, LEGACY_IDS[at], p.flagKey)
      assert.equal(p._completedAt, undefined)
    } else {
      assert.equal(p.activePhaseId, undefined, `${p.flagKey} is finished`)
      assert.equal(typeof p._completedAt, 'number')
    }
    assert.equal(typeof p._createdAt, 'number')
    assert.equal(p._links.self.href, `/api/v2/flags/web/${p.flagKey}/release`)
  })
  const requested = pages(server, progressionsPath(LEGACY))
  const limit = limitOf(requested[0])
  assert.ok(limit < 130, `page size ${limit}: more than one page`)
  assert.equal(requested.length, Math.ceil(130 / limit))
  assert.deepEqual(
    requested.map(offsetOf),
    requested.map((_, i) => i * limit),
  )
  assert.equal(server.requests.length, requested.length, 'no filter: nothing else is read')
  assert.ok(requested.every((q) => !q.query.has('filter')))
})

test('stopping early fetches no more pages', async (t) => {
  const spec = {}
  for (let i = 0; i < 120; i++) spec[`flag-${i}`] = legacyAt(0)
  const server = await fake(t, { releases: flagsOf(spec) })
  const c = client(server)
  for await (const progression of c.listReleaseProgressions('web', LEGACY)) {
    assert.equal(progression.flagKey, 'flag-0')
    break
  }
  await sleep(100)
  assert.equal(pages(server, progressionsPath(LEGACY)).length, 1, 'one page for the first item, none after the break')
  const limit = limitOf(pages(server, progressionsPath(LEGACY))[0])

  // Past the first page: exactly two pages.
  server.clearRequests()
  let n = 0
  for await (const progression of c.listReleaseProgressions('web', LEGACY)) {
    if (++n === limit + 1) {
      assert.equal(progression.flagKey, `flag-${limit}`)
      break
    }
  }
  await sleep(100)
  assert.deepEqual(pages(server, progressionsPath(LEGACY)).map(offsetOf), [0, limit])

  // return() on the iterator itself ends it: next() is then done, and sends nothing.
  server.clearRequests()
  const iterator = c.listReleaseProgressions('web', LEGACY)[Symbol.asyncIterator]()
  await iterator.next()
  await iterator.return?.()
  assert.equal((await iterator.next()).done, true)
  await sleep(100)
  assert.equal(server.requests.length, 1)

  // The same for pipelines.
  server.clearRequests()
  for await (const pipeline of c.listReleasePipelines('web')) {
    assert.equal(pipeline.key, LEGACY)
    break
  }
  assert.equal(server.requests.length, 1)
})

test('a failing page or a bad argument rejects the next() that needed it', async (t) => {
  const all = Array.from({ length: 80 }, (_, i) => ({ flagKey: `f${i}`, activePhaseId: 'a', _createdAt: 1 }))
  let failFrom = Infinity
  const server = await serve(t, (q) => (offsetOf(q) >= failFrom ? { status: 500, body: { code: 'internal_server_error', message: 'boom' } } : { body: page(all, q.query) }))
  const c = client(server)
  // Learn the page size, then make the second page fail.
  const iterator = c.listReleaseProgressions('web', 'p')[Symbol.asyncIterator]()
  await iterator.next()
  const limit = limitOf(server.requests[0])
  failFrom = limit
  for (let i = 1; i < limit; i++) assert.equal((await iterator.next()).value.flagKey, `f${i}`, 'the first page is served')
  await assert.rejects(iterator.next(), ldError({ code: 'ERR_LD_SERVER', status: 500 }))
  assert.equal(server.requests.length, 2)
  // The failed read ended the list: the next next() is done, and sends nothing.
  failFrom = Infinity
  assert.deepEqual(await iterator.next(), { done: true, value: undefined })
  assert.equal(server.requests.length, 2)

  // Bad arguments: the iterator comes back, and its first next() rejects; nothing is sent.
  server.requests.length = 0
  const cases = [
    [() => c.listReleasePipelines(''), /projectKey/],
    [() => c.listReleaseProgressions('web', ''), /pipelineKey/],
    [() => c.listReleaseProgressions('web', 'p', { status: 'done' }), /status/],
    [() => c.listReleaseProgressions('web', 'p', { phase: -1 }), /phase/],
    [() => c.listReleaseProgressions('web', 'p', { phase: { nmae: 'QA' } }), /phase/],
    [() => c.listReleaseProgressions('web', 'p', { stauts: 'active' }), /stauts/],
    [() => c.listReleaseProgressions('web', 'p', { status: 'completed', phase: 0 }), /completed/],
  ]
  for (const [make, message] of cases) {
    const it = make()[Symbol.asyncIterator]()
    await assert.rejects(it.next(), (error) => {
      assertLdError(error, { code: 'ERR_LD_INVALID_ARGUMENT' })
      assert.match(error.message, message)
      return true
    })
  }
  await sleep(50)
  assert.equal(server.requests.length, 0)
})

test('a list honours its signal: aborted already, nothing is sent; aborted during a slow page, next() rejects at once', async (t) => {
  const all = Array.from({ length: 120 }, (_, i) => ({ flagKey: `f${i}`, activePhaseId: 'a', _createdAt: 1 }))
  const pipelines = Array.from({ length: 120 }, (_, i) => ({ key: `p${i}`, name: `P${i}`, phases: [], _isLegacy: true }))
  // The second page of a list is held until the test lets it go.
  let letGo
  const held = new Promise((resolve) => (letGo = resolve))
  t.after(() => letGo())
  let answeredSecond = false
  const server = await serve(t, async (q) => {
    const items = q.path.endsWith('/releases') ? all : pipelines
    if (offsetOf(q) > 0) {
      await held
      answeredSecond = true
    }
    return { body: page(items, q.query) }
  })
  const c = client(server, { timeoutMs: 10000 })
  const isAbort = (reason) => (error) => {
    assert.equal(error.name, 'AbortError')
    assert.equal(error.code, 'ABORT_ERR')
    assert.equal(error.cause, reason)
    return true
  }

  // An already-aborted signal: the first next() rejects, and nothing is sent.
  const already = new Error('already')
  for (const list of [c.listReleasePipelines('web', { signal: AbortSignal.abort(already) }), c.listReleaseProgressions('web', 'p', { signal: AbortSignal.abort(already) })]) {
    const iterator = list[Symbol.asyncIterator]()
    await assert.rejects(iterator.next(), isAbort(already))
    await assert.rejects(iterator.next(), isAbort(already), 'and every next() after it')
  }
  await sleep(50)
  assert.equal(server.requests.length, 0, 'an aborted list sends nothing')

  // Aborted while a page is pending: next() rejects before the page comes, and nothing
  // more is fetched.
  const controller = new AbortController()
  const iterator = c.listReleaseProgressions('web', 'p', { signal: controller.signal })[Symbol.asyncIterator]()
  assert.equal((await iterator.next()).value.flagKey, 'f0')
  const limit = limitOf(server.requests[0])
  for (let i = 1; i < limit; i++) await iterator.next()
  const pending = iterator.next()
  while (server.requests.length < 2) await sleep(5)
  const reason = new Error('stop listing')
  controller.abort(reason)
  await assert.rejects(pending, isAbort(reason))
  assert.equal(answeredSecond, false, 'the call did not wait for the slow page')
  letGo()
  await assert.rejects(iterator.next(), isAbort(reason))
  await sleep(50)
  assert.deepEqual(server.requests.map(offsetOf), [0, limit], 'nothing fetched after the abort')
})

test('an answer that is not a page rejects with ERR_LD_DECODE; extra fields are ignored', async (t) => {
  let body = { items: [{ flagKey: 'a', activePhaseId: 'x', someday: true }], totalCount: 1, phases: [], activeCount: 1, unknown: { deep: [1] } }
  const server = await serve(t, () => ({ body }))
  const c = client(server)
  const listed = []
  for await (const p of c.listReleaseProgressions('web', 'p')) listed.push(p)
  assert.deepEqual(listed, body.items)
  for (const bad of [{ totalCount: 3 }, { items: 'a', totalCount: 1 }, '[1,2]', 'not json']) {
    body = bad
    const it = c.listReleaseProgressions('web', 'p')[Symbol.asyncIterator]()
    await assert.rejects(it.next(), ldError({ code: 'ERR_LD_DECODE' }), JSON.stringify(bad))
  }
})

test('filters: status, and a phase by index, name or id sent as LaunchDarkly writes it', async (t) => {
  // More flags at Staging than one page holds, so the filter goes with every page.
  const spec = {}
  for (let i = 0; i < 60; i++) spec[`staging-${i}`] = legacyAt(1)
  Object.assign(spec, { 'testing-a': legacyAt(0), 'testing-b': legacyAt(0), 'done-a': legacyAt(3), 'prod-a': legacyAt(2) })
  const server = await fake(t, { releases: flagsOf(spec) })
  const c = client(server)
  const keys = async (options) => {
    const out = []
    for await (const p of c.listReleaseProgressions('web', LEGACY, options)) out.push(p.flagKey)
    return out
  }
  const staging = Object.keys(spec).filter((k) => k.startsWith('staging-'))

  assert.deepEqual(await keys({ status: 'completed' }), ['done-a'])
  assert.match(pages(server, progressionsPath(LEGACY))[0].query.get('filter'), /^status equals "?completed"?$/)
  assert.deepEqual(await keys({ status: 'active' }), Object.keys(spec).filter((k) => k !== 'done-a'))

  const expectedFilter = `status equals "active",activePhaseId equals "${LEGACY_IDS[1]}"`
  for (const phase of [1, { name: 'Staging' }, { id: LEGACY_IDS[1] }]) {
    server.clearRequests()
    assert.deepEqual(await keys({ phase }), staging, JSON.stringify(phase))
    const requested = pages(server, progressionsPath(LEGACY))
    assert.ok(requested.length >= 2, 'several pages')
    for (const q of requested) assert.equal(q.query.get('filter'), expectedFilter)
    // The pipeline is read at most once, to find the phase's id; never for a phase by id.
    const reads = pages(server, `${LIST}/${LEGACY}`).length
    assert.equal(reads, typeof phase === 'object' && phase.id ? 0 : 1, JSON.stringify(phase))
    assert.equal(server.requests.length, requested.length + reads)
    assert.ok(sent(server).findIndex((q) => q.path === `${LIST}/${LEGACY}`) <= 0, 'the pipeline is read before any page')
  }
  assert.deepEqual(await keys({ phase: { name: 'Testing' }, status: 'active' }), ['testing-a', 'testing-b'])
  assert.deepEqual(await keys({ phase: 2 }), ['prod-a'])

  // A phase the pipeline does not have: refused, naming the phases; no page is fetched.
  for (const phase of [{ name: 'QA' }, 3]) {
    server.clearRequests()
    const it = c.listReleaseProgressions('web', LEGACY, { phase })[Symbol.asyncIterator]()
    await assert.rejects(it.next(), ldError({ code: 'ERR_LD_INVALID_ARGUMENT' }))
    assert.equal(pages(server, progressionsPath(LEGACY)).length, 0)
  }
})

test('advancePipeline on a legacy pipeline: one guarded PATCH per flag at the phase, results in listing order', async (t) => {
  const spec = { a: legacyAt(0), b: legacyAt(0), staged: legacyAt(1), c: legacyAt(0), finished: legacyAt(3), prod: legacyAt(2) }
  const server = await fake(t, { releases: [...flagsOf(spec), ...flagsOf({ other: newAt(0) })] })
  const c = client(server)
  const results = await c.advancePipeline('web', LEGACY, { name: 'Testing' })
  assert.deepEqual(
    results.map((r) => [r.flagKey, r.ok]),
    [
      ['a', true],
      ['b', true],
      ['c', true],
    ],
  )
  for (const r of results) {
    assert.deepEqual(r.release, server.getRelease('web', r.flagKey), 'the release the server answered')
    assert.equal(r.release.phases[0].complete, true)
  }
  const [read, list, ...rest] = sent(server)
  assert.deepEqual([read.method, read.path], ['GET', `${LIST}/${LEGACY}`])
  assert.deepEqual([list.method, list.path, list.query.get('filter')], ['GET', progressionsPath(LEGACY), `status equals "active",activePhaseId equals "${LEGACY_IDS[0]}"`])
  assert.ok(rest.every((q) => q.method === 'PATCH'), 'nothing but the writes after the listing')
  assert.deepEqual(rest.map((q) => q.path).sort(), ['a', 'b', 'c'].map(releasePath))
  for (const q of rest) {
    assert.deepEqual(JSON.parse(q.body), [
      { op: 'test', path: '/phases/0/_id', value: LEGACY_IDS[0] },
      { op: 'replace', path: '/phases/0/complete', value: true },
    ])
  }
  // The others are as they were.
  for (const flagKey of ['staged', 'finished', 'prod']) assert.deepEqual(server.getRelease('web', flagKey), spec[flagKey], flagKey)
  assert.deepEqual(server.getRelease('web', 'other'), newAt(0))

  // The last phase of a legacy pipeline is completed like any other; by index this time.
  server.clearRequests()
  const last = await c.advancePipeline('web', LEGACY, 2)
  assert.deepEqual(
    last.map((r) => [r.flagKey, r.ok]),
    [['prod', true]],
  )
  assert.deepEqual(JSON.parse(writes(server)[0].body)[1], { op: 'replace', path: '/phases/2/complete', value: true })
  assert.ok(server.getRelease('web', 'prod').phases.every((p) => p.complete))
  // No flag at the phase: nothing to write, an empty result.
  server.clearRequests()
  assert.deepEqual(await c.advancePipeline('web', LEGACY, 2), [])
  assert.deepEqual(writes(server), [])
})

test('advancePipeline on a new pipeline starts the next phase of each flag: one PUT, never the PATCH', async (t) => {
  const spec = { q1: newAt(0), q2: newAt(0), beta: newAt(1), ga: newAt(2), q3: newAt(0) }
  const server = await fake(t, { releases: [...flagsOf(spec), ...flagsOf({ legacy: legacyAt(0) })] })
  const c = client(server)
  const results = await c.advancePipeline('web', NEW, { id: NEW_IDS[0] })
  assert.deepEqual(
    results.map((r) => [r.flagKey, r.ok]),
    [
      ['q1', true],
      ['q2', true],
      ['q3', true],
    ],
  )
  const sentWrites = writes(server)
  assert.deepEqual(sentWrites.map((q) => `${q.method} ${q.path}`).sort(), ['q1', 'q2', 'q3'].map((f) => `PUT ${phasePath(f, NEW_IDS[1])}`))
  for (const q of sentWrites) assert.deepEqual(JSON.parse(q.body), { status: 'active' })
  for (const r of results) {
    assert.deepEqual(r.release, server.getRelease('web', r.flagKey))
    assert.deepEqual(r.release.phases.map((p) => p.status), ['completed', 'active', 'not-started'])
  }
  assert.deepEqual(server.getRelease('web', 'beta'), spec.beta)
  assert.deepEqual(server.getRelease('web', 'legacy'), legacyAt(0))

  // From Beta (by index): the four flags now there start General availability.
  server.clearRequests()
  const fromBeta = await c.advancePipeline('web', NEW, 1)
  assert.deepEqual(fromBeta.map((r) => r.flagKey), ['q1', 'q2', 'beta', 'q3'])
  assert.ok(fromBeta.every((r) => r.ok))
  assert.deepEqual(writes(server).map((q) => q.path).sort(), ['beta', 'q1', 'q2', 'q3'].map((f) => phasePath(f, NEW_IDS[2])))
})

test('the last phase of a new pipeline is refused with ERR_LD_UNSUPPORTED before anything is written', async (t) => {
  const spec = { ga: newAt(2), ga2: newAt(2), q: newAt(0) }
  const server = await fake(t, { releases: flagsOf(spec) })
  const c = client(server)
  for (const from of [2, { name: 'General availability' }, { id: NEW_IDS[2] }]) {
    await expectLdError(() => c.advancePipeline('web', NEW, from), { code: 'ERR_LD_UNSUPPORTED' })
    await expectLdError(() => c.advancePipeline('web', NEW, from, { dryRun: true }), { code: 'ERR_LD_UNSUPPORTED' })
  }
  assert.deepEqual(writes(server), [])
  for (const [flagKey, release] of Object.entries(spec)) assert.deepEqual(server.getRelease('web', flagKey), release)
  // A phase the pipeline does not have is a bad argument, as elsewhere.
  await expectLdError(() => c.advancePipeline('web', NEW, 3), { code: 'ERR_LD_INVALID_ARGUMENT' })
  await expectLdError(() => c.advancePipeline('web', NEW, { name: 'Testing' }), { code: 'ERR_LD_INVALID_ARGUMENT' })
  await expectLdError(() => c.advancePipeline('web', 'no-such-pipeline', 0), { code: 'ERR_LD_NOT_FOUND', status: 404 })
  assert.deepEqual(writes(server), [])
})

test('a failing flag fails alone: its error in its result, every other flag moved', async (t) => {
  const spec = { a: legacyAt(0), b: legacyAt(0), c: legacyAt(0), d: legacyAt(0), e: legacyAt(0) }
  const server = await fake(t, { releases: [...flagsOf(spec), ...flagsOf({ n1: newAt(0), n2: newAt(0) })] })
  const c = client(server)
  server.injectFault({ match: { method: 'PATCH', path: releasePath('c') }, status: 500 })
  server.injectFault({ match: { method: 'PATCH', path: releasePath('e') }, status: 403 })
  const results = await c.advancePipeline('web', LEGACY, 0, { concurrency: 2 })
  assert.deepEqual(
    results.map((r) => (r.ok ? 'ok' : r.error.code)),
    ['ok', 'ok', 'ERR_LD_SERVER', 'ok', 'ERR_LD_FORBIDDEN'],
  )
  assert.deepEqual(results.map((r) => r.flagKey), ['a', 'b', 'c', 'd', 'e'])
  assertLdError(results[2].error, { code: 'ERR_LD_SERVER', status: 500 })
  assert.equal(ld.isLaunchDarklyError(results[4].error), true)
  assert.equal(results[2].release, undefined)
  for (const flagKey of ['a', 'b', 'd']) assert.equal(server.getRelease('web', flagKey).phases[0].complete, true, flagKey)
  for (const flagKey of ['c', 'e']) assert.deepEqual(server.getRelease('web', flagKey), spec[flagKey], `${flagKey} was not written`)
  // One write per flag: the failed ones were not sent again (maxRetries 0).
  assert.equal(writes(server).length, 5)

  // On a new pipeline: a refused PUT fails that flag alone.
  server.clearRequests()
  server.injectFault({ match: { method: 'PUT', path: phasePath('n2', NEW_IDS[1]) }, status: 404 })
  const fresh = await c.advancePipeline('web', NEW, 0)
  assert.deepEqual(
    fresh.map((r) => [r.flagKey, r.ok ? 'ok' : r.error.code]),
    [
      ['n1', 'ok'],
      ['n2', 'ERR_LD_NOT_FOUND'],
    ],
  )
  assert.equal(server.getRelease('web', 'n1').phases[1].status, 'active')
  assert.deepEqual(server.getRelease('web', 'n2'), newAt(0))
})

test('a legacy release that moves between the listing and its write is not changed, and not reported done', async (t) => {
  const server = await fake(t, { releases: flagsOf({ a: legacyAt(0), moved: legacyAt(0), b: legacyAt(0) }) })
  // The write to `moved` waits at the server; meanwhile its release is replaced by one whose
  // phase 0 is another phase. The write's `test` then fails.
  server.injectFault({ match: { method: 'PATCH', path: releasePath('moved') }, delayMs: 300 })
  const replaced = legacyAt(0)
  replaced.phases.reverse()
  const running = client(server).advancePipeline('web', LEGACY, 0)
  for (let i = 0; i < 200 && !server.requests.some((q) => q.method === 'PATCH' && q.path === releasePath('moved')); i++) await sleep(10)
  server.setRelease('web', 'moved', replaced)
  const results = await running
  assert.deepEqual(
    results.map((r) => [r.flagKey, r.ok]),
    [
      ['a', true],
      ['moved', false],
      ['b', true],
    ],
  )
  assert.equal(ld.isLaunchDarklyError(results[1].error), true)
  assert.deepEqual(server.getRelease('web', 'moved'), replaced, 'the moved release was not changed')
})

test('a dry run lists each flag and the request it would be sent, and writes nothing', async (t) => {
  const spec = { a: legacyAt(0), b: legacyAt(0), later: legacyAt(1), n1: newAt(0), n2: newAt(0), n3: newAt(1) }
  const server = await fake(t, { releases: flagsOf(spec) })
  const c = client(server)
  for (const [pipeline, from, expected] of [
    [LEGACY, { name: 'Testing' }, ['a', 'b']],
    [NEW, 0, ['n1', 'n2']],
  ]) {
    server.clearRequests()
    const planned = await c.advancePipeline('web', pipeline, from, { dryRun: true })
    assert.deepEqual(planned.map((r) => r.flagKey), expected)
    assert.ok(
      server.requests.every((q) => q.method === 'GET'),
      'only reads',
    )
    for (const [flagKey, release] of Object.entries(spec)) assert.deepEqual(server.getRelease('web', flagKey), release, `${flagKey} unchanged`)
    for (const r of planned) {
      assert.equal(r.ok, true)
      assert.equal(r.dryRun, true)
      assert.equal(r.release, undefined)
      assert.equal(r.request.headers.Authorization, `****${TOKEN.slice(-4)}`)
      assert.equal(r.request.headers['LD-API-Version'], 'beta')
    }
    assertNoSecretIn(JSON.stringify(planned), 'the dry run')

    // The real run sends exactly what the dry run showed.
    server.clearRequests()
    const done = await c.advancePipeline('web', pipeline, from)
    assert.ok(done.every((r) => r.ok))
    const actual = writes(server)
      .map((q) => `${q.method} ${server.url}${q.path} ${q.body}`)
      .sort()
    assert.deepEqual(actual, planned.map((r) => `${r.request.method} ${r.request.url} ${r.request.body}`).sort())
    if (pipeline === LEGACY) assert.ok(planned.every((r) => r.request.method === 'PATCH'))
    else assert.ok(planned.every((r) => r.request.method === 'PUT' && r.request.url.endsWith(`/phases/${NEW_IDS[1]}`)))
    for (const flagKey of expected) spec[flagKey] = server.getRelease('web', flagKey)
  }
})

test('against a server written here: sparse answers, concurrency, and progress', async (t) => {
  // A legacy pipeline answered with only what the call needs (no _isLegacy: legacy),
  // pages without totalCount, and writes answered slowly with a body unlike a Release.
  const flags = Array.from({ length: 10 }, (_, i) => ({ flagKey: `f${i}`, activePhaseId: 'phase-b', unknownField: i }))
  let inFlight = 0
  let most = 0
  const server = await serve(t, async (q) => {
    if (q.method === 'GET' && q.path === `${LIST}/sparse`) return { body: { key: 'sparse', phases: [{ id: 'phase-a', name: 'A' }, { id: 'phase-b', name: 'B' }, { id: 'phase-c', name: 'C' }] } }
    if (q.method === 'GET' && q.path === progressionsPath('sparse')) return { body: page(flags, q.query, { total: false }) }
    if (q.method === 'PATCH') {
      inFlight++
      most = Math.max(most, inFlight)
      await sleep(60)
      inFlight--
      return { body: { accepted: q.path } }
    }
    return { status: 404, body: { code: 'not_found', message: 'no' } }
  })
  const progress = []
  const results = await client(server).advancePipeline('web', 'sparse', { name: 'B' }, { concurrency: 3, onProgress: (done, total) => progress.push([done, total]) })
  assert.deepEqual(
    results.map((r) => [r.flagKey, r.ok]),
    flags.map((f) => [f.flagKey, true]),
  )
  // An accepted write resolves to the answer as sent, however it looks.
  results.forEach((r) => assert.deepEqual(r.release, { accepted: releasePath(r.flagKey) }))
  assert.ok(most <= 3, `${most} writes in flight with concurrency 3`)
  assert.ok(most >= 2, `${most} writes in flight: they overlap`)
  const patches = server.requests.filter((q) => q.method === 'PATCH')
  assert.equal(patches.length, 10)
  for (const q of patches) {
    assert.deepEqual(JSON.parse(q.body), [
      { op: 'test', path: '/phases/1/_id', value: 'phase-b' },
      { op: 'replace', path: '/phases/1/complete', value: true },
    ])
  }
  // The filter of the listing names the phase's id.
  const listing = server.requests.find((q) => q.path === progressionsPath('sparse'))
  assert.equal(listing.query.get('filter'), 'status equals "active",activePhaseId equals "phase-b"')
  await sleep(20) // progress calls are delivered through the event loop
  assert.equal(progress.length, 10)
  assert.deepEqual(progress.at(-1), [10, 10])
  assert.deepEqual(
    progress.map(([done]) => done),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  )
  assert.ok(progress.every(([, total]) => total === 10))
})

test('every request of an advance shares the client’s rate-limit gate: all succeed, at most one 429 per window', async (t) => {
  const spec = {}
  for (let i = 0; i < 60; i++) spec[`flag-${i}`] = legacyAt(0)
  const server = await fake(t, { releases: flagsOf(spec), rateLimit: { limit: 20, windowMs: 1000 } })
  const start = performance.now()
  const results = await client(server, { maxRetries: 5 }).advancePipeline('web', LEGACY, 0, { concurrency: 16 })
  const elapsed = performance.now() - start
  const windows = Math.ceil(elapsed / 1000) + 1
  t.diagnostic(`60 flags in ${elapsed.toFixed(0)} ms, ${server.rateLimited} × 429 over ~${windows} windows`)
  assert.equal(results.length, 60)
  assert.ok(
    results.every((r) => r.ok),
    results.find((r) => !r.ok)?.error?.message,
  )
  assert.ok(server.rateLimited <= windows, `${server.rateLimited} 429s in ${windows} windows`)
  // 60 writes at 20 per window need at least two full windows after the first.
  assert.ok(elapsed >= 2000, `finished in ${elapsed} ms, faster than the limit allows`)
})

test('bad arguments and options of advancePipeline are refused before anything is sent; an aborted signal sends nothing', async (t) => {
  const server = await fake(t, { releases: flagsOf({ a: legacyAt(0) }) })
  const c = client(server)
  const cases = [
    [() => c.advancePipeline('', LEGACY, 0), /projectKey/],
    [() => c.advancePipeline('web', '', 0), /pipelineKey/],
    [() => c.advancePipeline('web', LEGACY, -1), /phase|from/],
    [() => c.advancePipeline('web', LEGACY, 1.5), /phase|from/],
    [() => c.advancePipeline('web', LEGACY, { title: 'Testing' }), /phase|from/],
    [() => c.advancePipeline('web', LEGACY, 0, { concurrency: 0 }), /concurrency/],
    [() => c.advancePipeline('web', LEGACY, 0, { onProgress: 'yes' }), /onProgress/],
    [() => c.advancePipeline('web', LEGACY, 0, { dryRun: 'yes' }), /dryRun/],
    [() => c.advancePipeline('web', LEGACY, 0, { dryrun: true }), /dryrun.*dryRun/],
    [() => c.advancePipeline('web', LEGACY, 0, { apiKey: 'x' }), /apiKey/],
  ]
  for (const [call, message] of cases) {
    const error = await expectLdError(call, { code: 'ERR_LD_INVALID_ARGUMENT' })
    assert.match(error.message, message)
  }
  await assert.rejects(c.advancePipeline('web', LEGACY, 0, { signal: AbortSignal.abort() }), { name: 'AbortError', code: 'ABORT_ERR' })
  assert.equal(server.requests.length, 0)
  assert.equal(server.getRelease('web', 'a').phases[0].complete, false)
})

test('module-level forms take the client options with the call options', async (t) => {
  const server = await fake(t, { releases: flagsOf({ a: legacyAt(0), b: legacyAt(1), n: newAt(0) }) })
  const opts = { apiKey: server.apiKey, baseUrl: server.url, maxRetries: 0 }
  assert.deepEqual(await ld.getReleasePipeline('web', LEGACY, opts), samplePipeline())
  const keys = []
  for await (const p of ld.listReleasePipelines('web', opts)) keys.push(p.key)
  assert.deepEqual(keys, [LEGACY, NEW])
  const atStaging = []
  for await (const p of ld.listReleaseProgressions('web', LEGACY, { ...opts, phase: { name: 'Staging' } })) atStaging.push(p.flagKey)
  assert.deepEqual(atStaging, ['b'])
  const planned = await ld.advancePipeline('web', NEW, { name: 'QA' }, { ...opts, dryRun: true })
  assert.deepEqual(planned.map((r) => [r.flagKey, r.request.method]), [['n', 'PUT']])
  const moved = await ld.advancePipeline('web', LEGACY, 0, { ...opts, concurrency: 1 })
  assert.deepEqual(moved.map((r) => [r.flagKey, r.ok]), [['a', true]])
  const input = { key: 'mod', name: 'Module', phases: [{ name: 'Only', audiences: [{ environmentKey: 'test', name: 'Test' }] }] }
  assert.equal((await ld.createReleasePipeline('web', input, opts)).key, 'mod')
  assert.equal((await ld.updateReleasePipeline('web', 'mod', { name: 'Renamed', phases: input.phases }, opts)).name, 'Renamed')
  assert.equal(await ld.deleteReleasePipeline('web', 'mod', opts), undefined)
  // A misspelt client option is refused, not sent to the default instance.
  const misspelt = await expectLdError(() => ld.getReleasePipeline('web', LEGACY, { apiKey: server.apiKey, baseUri: server.url }), { code: 'ERR_LD_INVALID_ARGUMENT' })
  assert.match(misspelt.message, /baseUrl/)
  const listMisspelt = ld.listReleaseProgressions('web', LEGACY, { ...opts, phse: 0 })[Symbol.asyncIterator]()
  await assert.rejects(listMisspelt.next(), ldError({ code: 'ERR_LD_INVALID_ARGUMENT' }))
})

test('previewRequest shows the first request of each new operation, as the call then sends it', async (t) => {
  const server = await fake(t, { releases: flagsOf({ a: legacyAt(0) }) })
  const opts = { apiKey: server.apiKey, baseUrl: server.url }
  const input = { key: 'previewed', name: 'Previewed', phases: [{ name: 'Only', audiences: [{ environmentKey: 'test', name: 'Test' }] }] }
  const update = { name: 'Again', phases: input.phases }
  // Each operation with the arguments of its module-level function, options last.
  const calls = [
    ['getReleasePipeline', ['web', LEGACY, opts], () => ld.getReleasePipeline('web', LEGACY, opts)],
    ['listReleasePipelines', ['web', opts], () => ld.listReleasePipelines('web', opts)[Symbol.asyncIterator]().next()],
    ['listReleaseProgressions', ['web', LEGACY, opts], () => ld.listReleaseProgressions('web', LEGACY, opts)[Symbol.asyncIterator]().next()],
    ['listReleaseProgressions', ['web', LEGACY, { ...opts, status: 'completed' }], () => ld.listReleaseProgressions('web', LEGACY, { ...opts, status: 'completed' })[Symbol.asyncIterator]().next()],
    // A phase by id is in the filter of the first page; by index or name, the pipeline is read first.
    ...[{ id: LEGACY_IDS[1] }, 1, { name: 'Staging' }].map((phase) => ['listReleaseProgressions', ['web', LEGACY, { ...opts, phase }], () => ld.listReleaseProgressions('web', LEGACY, { ...opts, phase })[Symbol.asyncIterator]().next()]),
    ['createReleasePipeline', ['web', input, opts], () => ld.createReleasePipeline('web', input, opts)],
    ['updateReleasePipeline', ['web', 'previewed', update, opts], () => ld.updateReleasePipeline('web', 'previewed', update, opts)],
    ['deleteReleasePipeline', ['web', 'previewed', opts], () => ld.deleteReleasePipeline('web', 'previewed', opts)],
    ['advancePipeline', ['web', LEGACY, 0, opts], () => ld.advancePipeline('web', LEGACY, 0, opts)],
  ]
  for (const [operation, args, call] of calls) {
    const preview = ld.previewRequest(operation, ...args)
    assert.equal(preview.headers.Authorization, `****${server.apiKey.slice(-4)}`, operation)
    assertNoSecretIn(JSON.stringify(preview), operation, server.apiKey)
    server.clearRequests()
    await call()
    const first = server.requests[0]
    assert.equal(preview.method, first.method, operation)
    assert.equal(preview.url, server.url + first.path, operation)
    assert.equal(preview.body ?? '', first.body, operation)
  }
  // No token needed, nothing sent.
  const bare = ld.previewRequest('getReleasePipeline', 'web', 'x y', { baseUrl: server.url })
  assert.deepEqual([bare.method, bare.url], ['GET', `${server.url}${LIST}/x%20y`])
})

test('listReleasePipelines with a query sends it, and refuses one that is empty, too long or has control characters', async (t) => {
  const server = await serve(t, (q) => ({ body: page([], q.query) }))
  const c = client(server)
  const list = async (options) => {
    const out = []
    for await (const p of c.listReleasePipelines('web', options)) out.push(p)
    return out
  }
  assert.deepEqual(await list({ query: 'std rollout' }), [])
  assert.equal(server.requests[0].query.get('filter'), 'query:std rollout')
  const longest = 'q'.repeat(1000)
  await list({ query: longest })
  assert.equal(server.requests[1].query.get('filter'), `query:${longest}`, 'a query of exactly 1000 characters')
  await list({ query: undefined })
  assert.equal(server.requests[2].query.get('filter'), null, 'no query, no filter')
  for (const query of ['', '   ', `${longest}q`, 'a\nb', 'a\u0000b']) {
    await expectLdError(() => list({ query }), { code: 'ERR_LD_INVALID_ARGUMENT', message: 'options.query must be a non-empty text of at most 1000 characters, without control characters' })
  }
  await expectLdError(() => list({ query: 5 }), { code: 'ERR_LD_INVALID_ARGUMENT', message: 'options.query must be a string, got a number' })
  assert.equal(server.requests.length, 3, 'nothing sent for a bad query')
})
