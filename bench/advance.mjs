// advancePipeline under a rate limit, and listing progressions in flat memory.
//
// 1. Advance: every flag at the first phase of a pipeline moved on with one
//    `advancePipeline` call, against the fake LaunchDarkly in a separate process limited to
//    `limit` requests per `window` ms (per route, as the fake limits). Reported as the wall
//    time over the ideal for the requests it sends (requests answered / limit × window;
//    and, stricter, the writes alone, all on one route), 429s per window and the most in
//    one window, for a legacy pipeline (guarded PATCHes) and a new one (PUTs that start
//    the next phase). The peer, in the same run, is what a script does without
//    advancePipeline: list the flags with listReleaseProgressions, then completePhases by
//    index (legacy pipeline only: on a new one completePhases by index first sends a PATCH
//    that is refused).
// 2. Memory: listing `progressions` progressions with listReleaseProgressions, each list
//    in a fresh process, counting them as they come ("streamed"), against holding them in
//    an array ("held"), and a streamed list 30 times as long, whose RSS peak is noted
//    after `progressions`, 10× and 30×. RSS after gc() before the list, its peak and
//    V8's heap in use sampled at every page, RSS and the heap in use after gc() at the end. The pages come from a small server in
//    another process that makes each page from its offset (the fake builds every
//    progression of the project for each page, which would time the server).
//
//   node bench/advance.mjs [--flags 200] [--limit 20] [--window 1000] [--runs 3] [--concurrency 16] [--progressions 10000] [--memory-runs 3]
//
// Targets: the advance within 1.15× the ideal, at most one 429 in any window; a streamed
// list retains nothing (V8's heap in use after gc() within 0.25 MiB of before), and its
// peak RSS growth stops (in one list, a median of at most 1 MiB more from 10×
// `progressions` to 30×).
import { execFileSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { startFakeProcess } from './fake-process.mjs'
import { fmt, printTable, summary, writeResults } from './stats.mjs'

const { values } = parseArgs({
  options: {
    flags: { type: 'string', default: '200' },
    limit: { type: 'string', default: '20' },
    window: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    progressions: { type: 'string', default: '10000' },
    'memory-runs': { type: 'string', default: '3' },
    // Internal: the fake's process, and a memory measurement's process.
    fake: { type: 'string' },
    pages: { type: 'string' },
    'memory-child': { type: 'string' },
  },
})
const SELF = fileURLToPath(import.meta.url)
const PROJECT = 'bench'
const PIPELINES = { legacy: 'standard-rollout', new: 'progressive-rollout' }

if (values.fake !== undefined) await serveFake(JSON.parse(values.fake))
else if (values.pages !== undefined) await servePages(JSON.parse(values.pages))
else if (values['memory-child'] !== undefined) await memoryChild(JSON.parse(values['memory-child']))
else await main()

/**
 * The fake LaunchDarkly in this process: `flags` releases at the first phase of the
 * `kind` pipeline. Prints `{ url, apiKey }`, answers `stats` on stdin with
 * `{ requests, rateLimited, writes }` (and forgets the recorded requests), exits on
 * `close` or when stdin ends.
 */
async function serveFake({ kind, flags, rateLimit }) {
  const { startFakeLaunchDarkly, sampleRelease, sampleNewPipelineRelease } = await import('../testing/index.mjs')
  const make = kind === 'new' ? sampleNewPipelineRelease : sampleRelease
  const releases = Array.from({ length: flags }, (_, i) => ({ projectKey: PROJECT, flagKey: `flag-${i}`, release: make() }))
  const fake = await startFakeLaunchDarkly({ releases, rateLimit })
  process.stdout.write(JSON.stringify({ url: fake.url, apiKey: fake.apiKey }) + '\n')
  const input = createInterface({ input: process.stdin })
  input.on('line', (line) => {
    if (line === 'stats') {
      const writes = fake.requests.filter((q) => q.method !== 'GET').length
      process.stdout.write(JSON.stringify({ requests: fake.requests.length, rateLimited: fake.rateLimited, writes, most429: most429(fake.requests, rateLimit) }) + '\n')
      fake.clearRequests()
    } else if (line === 'close') {
      input.close()
    }
  })
  input.on('close', async () => {
    await fake.close()
    process.exit(0)
  })
}

/**
 * A server of release progressions for the memory figures: `count` progressions of the
 * legacy pipeline, shaped as the fake (and LaunchDarkly) sends them, each page made from
 * its offset. The fake itself builds every progression of a project for each page, which
 * would make a long list slow on the server's side, not the client's.
 */
async function servePages({ count }) {
  const { createServer } = await import('node:http')
  const phaseIds = ['6650a1b2c3d4e5f607182930', '6650a1b2c3d4e5f607182931', '6650a1b2c3d4e5f607182932']
  let pages = 0
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    const limit = Number(url.searchParams.get('limit') ?? 20)
    const offset = Number(url.searchParams.get('offset') ?? 0)
    const items = []
    for (let i = offset; i < Math.min(count, offset + limit); i++) {
      const flagKey = `flag-${i}`
      items.push({ flagKey, activePhaseId: phaseIds[i % 3], _createdAt: 1764300000000 + i, _links: { self: { href: `/api/v2/flags/${PROJECT}/${flagKey}/release`, type: 'application/json' } } })
    }
    pages++
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ items, totalCount: count, activeCount: count, completedCount: 0, _links: { self: { href: `${url.pathname}?limit=${limit}&offset=${offset}` } } }))
  })
  server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}`, apiKey: 'api-bench-pages-0000' }) + '\n'))
  const input = createInterface({ input: process.stdin })
  input.on('line', (line) => {
    if (line === 'stats') {
      process.stdout.write(JSON.stringify({ requests: pages, rateLimited: 0, writes: 0 }) + '\n')
      pages = 0
    } else if (line === 'close') {
      input.close()
    }
  })
  input.on('close', () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
}

/**
 * The most 429s the fake sent in one window, from the arrival times of the requests: the
 * fake counts each route (method and path, flag keys aside) in fixed windows from its
 * first request, and answers 429 past `limit` in a window.
 */
function most429(requests, rateLimit) {
  if (!rateLimit) return 0
  const windows = new Map()
  const starts = new Map()
  for (const q of requests) {
    const route = `${q.method} ${q.path.split('?')[0].replace(/\/flag-\d+\//, '/*/')}`
    if (!starts.has(route)) starts.set(route, q.receivedAt)
    const key = `${route} ${Math.floor((q.receivedAt - starts.get(route)) / rateLimit.windowMs)}`
    windows.set(key, (windows.get(key) ?? 0) + 1)
  }
  return Math.max(0, ...[...windows.values()].map((n) => n - rateLimit.limit))
}

/** Starts the fake (`--fake`) or the page server (`--pages`) of this script in a child process. */
function startFake(options, role = '--fake') {
  return startFakeProcess(options, [SELF, role])
}

/**
 * One memory measurement, in a fresh process: lists `count` progressions, `mode`
 * "streamed" (counted, nothing kept) or "held" (kept in an array). RSS and V8's heap in
 * use are sampled at every page. Prints `{ count, rssBeforeMiB, rssPeakMiB,
 * rssAfterMiB, heapPeakGrowthMiB, heapRetainedMiB, peaks, ms }` (retained: V8's heap in
 * use after gc() at the end, less before; peaks: the RSS peak growth so far at each of
 * `checkpoints`).
 */
async function memoryChild({ url, apiKey, mode, count: expected, checkpoints = [] }) {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc')
  const { ReleaseClient } = await import('../index.js')
  const client = new ReleaseClient({ apiKey, baseUrl: url })
  const MiB = (bytes) => bytes / 1024 / 1024
  // Warm up: one page, so the first page's code paths are loaded.
  for await (const p of client.listReleaseProgressions(PROJECT, PIPELINES.legacy)) if (p) break
  gc()
  const start = process.memoryUsage()
  let rssPeak = start.rss
  let heapPeak = start.heapUsed
  let count = 0
  const held = []
  const peaks = []
  const started = performance.now()
  for await (const progression of client.listReleaseProgressions(PROJECT, PIPELINES.legacy)) {
    if (mode === 'held') held.push(progression)
    if (++count % 50 === 0) {
      const now = process.memoryUsage()
      rssPeak = Math.max(rssPeak, now.rss)
      heapPeak = Math.max(heapPeak, now.heapUsed)
    }
    if (checkpoints.includes(count)) peaks.push({ count, rssPeakGrowthMiB: MiB(rssPeak - start.rss) })
    if (count >= expected) break
  }
  const kept = held.length
  gc()
  const after = process.memoryUsage()
  rssPeak = Math.max(rssPeak, after.rss)
  process.stdout.write(
    JSON.stringify({
      count,
      kept,
      rssBeforeMiB: MiB(start.rss),
      rssPeakMiB: MiB(rssPeak),
      rssAfterMiB: MiB(after.rss),
      heapPeakGrowthMiB: MiB(heapPeak - start.heapUsed),
      heapRetainedMiB: MiB(after.heapUsed - start.heapUsed),
      peaks,
      ms: performance.now() - started,
    }) + '\n',
  )
}

/** Advances every flag of the fake from the first phase; resolves to the flags moved. */
async function advance(ReleaseClient, fake, kind, concurrency) {
  const client = new ReleaseClient({ apiKey: fake.apiKey, baseUrl: fake.url, maxRetries: 10 })
  const results = await client.advancePipeline(PROJECT, PIPELINES[kind], 0, { concurrency })
  return results.filter((r) => r.ok).length
}

/** The peer: the flags listed with listReleaseProgressions, then completePhases by index. */
async function listThenComplete(ReleaseClient, fake, kind, concurrency) {
  const client = new ReleaseClient({ apiKey: fake.apiKey, baseUrl: fake.url, maxRetries: 10 })
  const items = []
  for await (const p of client.listReleaseProgressions(PROJECT, PIPELINES[kind], { phase: 0 })) items.push({ projectKey: PROJECT, flagKey: p.flagKey, phase: 0 })
  const results = await client.completePhases(items, { concurrency })
  return results.filter((r) => r.ok).length
}

async function main() {
  const { ReleaseClient } = await import('../index.js')
  const flags = Number(values.flags)
  const limit = Number(values.limit)
  const windowMs = Number(values.window)
  const runs = Number(values.runs)
  const concurrency = Number(values.concurrency)
  const rateLimit = { limit, windowMs }

  const peers = {
    'advancePipeline, legacy pipeline': { kind: 'legacy', fn: advance },
    'advancePipeline, new pipeline': { kind: 'new', fn: advance },
    'listReleaseProgressions + completePhases, legacy': { kind: 'legacy', fn: listThenComplete },
  }
  const measured = Object.fromEntries(Object.keys(peers).map((name) => [name, { ratio: [], ratioWrites: [], ms: [], per429: [], most429: [], total429: [], sent: [], ok: [] }]))
  for (let run = 0; run < runs; run++) {
    for (const [name, { kind, fn }] of Object.entries(peers)) {
      const fake = await startFake({ kind, flags, rateLimit })
      try {
        const start = performance.now()
        const ok = await fn(ReleaseClient, fake, kind, concurrency)
        const elapsed = performance.now() - start
        const { requests, rateLimited, writes, most429: most } = await fake.stats()
        const answered = requests - rateLimited
        const windows = Math.max(1, Math.ceil(elapsed / windowMs))
        const m = measured[name]
        m.ms.push(elapsed)
        m.ratio.push(elapsed / ((answered / limit) * windowMs))
        m.ratioWrites.push(elapsed / ((flags / limit) * windowMs))
        m.total429.push(rateLimited)
        m.per429.push(rateLimited / windows)
        m.most429.push(most)
        m.sent.push(answered)
        m.ok.push(ok)
        console.error(`run ${run + 1}/${runs} ${name}: ${elapsed.toFixed(0)} ms, ${ok}/${flags} moved, ${answered} requests answered (${writes} writes sent), ${rateLimited} × 429, at most ${most} in a window`)
      } finally {
        await fake.close()
      }
    }
  }
  const report = Object.fromEntries(
    Object.entries(measured).map(([name, m]) => [
      name,
      {
        ms: summary(m.ms),
        timeToIdeal: summary(m.ratio),
        timeToIdealOfWrites: summary(m.ratioWrites),
        rateLimitedPerWindow: summary(m.per429),
        mostRateLimitedInAWindow: summary(m.most429),
        rateLimited: summary(m.total429),
        requests: summary(m.sent),
        moved: summary(m.ok),
      },
    ]),
  )
  printTable(
    `Advance: ${flags} flags at phase 0, limit ${limit} per ${windowMs} ms per route, concurrency ${concurrency}, ${runs} runs (median (min–max))`,
    ['client', 'ms', 'time / ideal', 'time / ideal of the writes', '429s per window', 'most 429s in one window', '429s in all', 'requests answered', 'moved'],
    Object.entries(report).map(([name, r]) => [name, fmt(r.ms, 0), fmt(r.timeToIdeal), fmt(r.timeToIdealOfWrites), fmt(r.rateLimitedPerWindow), fmt(r.mostRateLimitedInAWindow, 0), fmt(r.rateLimited, 0), fmt(r.requests, 0), fmt(r.moved, 0)]),
  )
  const ours = report['advancePipeline, legacy pipeline']
  const peer = report['listReleaseProgressions + completePhases, legacy']
  console.log(`\nadvancePipeline / list + completePhases (legacy): time ${(ours.ms.median / peer.ms.median).toFixed(2)}×`)

  // Memory: a page server holding 30 × `progressions` progressions; each list in a fresh process.
  const total = Number(values.progressions)
  const memoryRuns = Number(values['memory-runs'])
  const pageServer = await startFake({ count: total * 30 }, '--pages')
  const long = total * 30
  const modes = [
    { name: `streamed, ${total}`, mode: 'streamed', count: total },
    { name: `held in an array, ${total}`, mode: 'held', count: total },
    { name: `streamed, ${long}`, mode: 'streamed', count: long, checkpoints: [total, total * 10, long] },
  ]
  const memory = Object.fromEntries(modes.map((m) => [m.name, { before: [], peak: [], after: [], heap: [], retained: [], pages: [], ms: [], peaks: [] }]))
  try {
    for (let run = 0; run < memoryRuns; run++) {
      for (const { name, mode, count, checkpoints } of modes) {
        const out = JSON.parse(execFileSync(process.execPath, [SELF, '--memory-child', JSON.stringify({ url: pageServer.url, apiKey: pageServer.apiKey, mode, count, checkpoints })], { encoding: 'utf8' }))
        const { requests } = await pageServer.stats()
        const m = memory[name]
        m.before.push(out.rssBeforeMiB)
        m.peak.push(out.rssPeakMiB - out.rssBeforeMiB)
        m.after.push(out.rssAfterMiB - out.rssBeforeMiB)
        m.heap.push(out.heapPeakGrowthMiB)
        m.retained.push(out.heapRetainedMiB)
        m.pages.push(requests - 1) // less the warm-up page
        m.ms.push(out.ms)
        m.peaks.push(out.peaks)
        const along = out.peaks.map((p) => `+${p.rssPeakGrowthMiB.toFixed(1)} by ${p.count}`).join(', ')
        console.error(
          `memory run ${run + 1}/${memoryRuns} ${name}: ${out.count} listed in ${requests - 1} pages, ${out.ms.toFixed(0)} ms, RSS ${out.rssBeforeMiB.toFixed(1)} → peak ${out.rssPeakMiB.toFixed(1)} → ${out.rssAfterMiB.toFixed(1)} MiB${along ? ` (peak ${along})` : ''}, heap peak +${out.heapPeakGrowthMiB.toFixed(1)} MiB, retained ${out.heapRetainedMiB.toFixed(2)} MiB`,
        )
      }
    }
  } finally {
    await pageServer.close()
  }
  const memoryReport = Object.fromEntries(
    Object.entries(memory).map(([name, m]) => [
      name,
      {
        pages: summary(m.pages),
        ms: summary(m.ms),
        rssBeforeMiB: summary(m.before),
        peakGrowthMiB: summary(m.peak),
        growthAfterMiB: summary(m.after),
        heapPeakGrowthMiB: summary(m.heap),
        heapRetainedMiB: summary(m.retained),
        peakGrowthAt: (m.peaks[0] ?? []).map(({ count }, i) => ({ count, rssPeakGrowthMiB: summary(m.peaks.map((run) => run[i].rssPeakGrowthMiB)) })),
      },
    ]),
  )
  printTable(
    `Listing progressions, each list in a fresh process, ${memoryRuns} runs (median (min–max))`,
    ['list', 'pages', 'ms', 'RSS before (MiB)', 'RSS peak growth (MiB)', 'RSS growth after gc (MiB)', 'heap peak growth (MiB)', 'heap retained after gc (MiB)'],
    Object.entries(memoryReport).map(([name, r]) => [name, fmt(r.pages, 0), fmt(r.ms, 0), fmt(r.rssBeforeMiB, 1), fmt(r.peakGrowthMiB, 1), fmt(r.growthAfterMiB, 1), fmt(r.heapPeakGrowthMiB, 1), fmt(r.heapRetainedMiB, 2)]),
  )
  const [small, held, longList] = modes.map((m) => memoryReport[m.name])
  printTable(
    `The streamed list of ${long}: RSS peak growth so far (MiB)`,
    longList.peakGrowthAt.map((p) => `after ${p.count}`),
    [longList.peakGrowthAt.map((p) => fmt(p.rssPeakGrowthMiB, 1))],
  )
  const late = summary(memory[modes[2].name].peaks.map((run) => run.at(-1).rssPeakGrowthMiB - run.at(-2).rssPeakGrowthMiB))
  console.log(`\nRSS peak growth for ${total}: ${small.peakGrowthMiB.median.toFixed(1)} MiB streamed, ${held.peakGrowthMiB.median.toFixed(1)} MiB held; from ${total * 10} to ${long} in one list: +${fmt(late, 1)} MiB`)
  const targets = {
    timeToIdeal: {
      target: 1.15,
      measured: Math.max(...Object.keys(peers).slice(0, 2).map((n) => report[n].timeToIdeal.median)),
      met: Object.keys(peers).slice(0, 2).every((n) => report[n].timeToIdeal.median <= 1.15),
    },
    mostRateLimitedInAWindow: {
      target: 1,
      measured: Math.max(...Object.keys(peers).slice(0, 2).map((n) => report[n].mostRateLimitedInAWindow.max)),
      met: Object.keys(peers).slice(0, 2).every((n) => report[n].mostRateLimitedInAWindow.max <= 1),
    },
    listRetainsNothing: {
      target: 'heap in use after gc() within 0.25 MiB of before, for every streamed list',
      measured: Math.max(small.heapRetainedMiB.max, longList.heapRetainedMiB.max),
      met: small.heapRetainedMiB.max <= 0.25 && longList.heapRetainedMiB.max <= 0.25,
    },
    listBounded: {
      target: `in one list, RSS peak growth from ${total * 10} to ${long} progressions at most 1 MiB (median of the runs)`,
      measured: late.median,
      met: late.median <= 1,
    },
  }
  for (const [name, t] of Object.entries(targets)) console.log(`${name}: ${t.met ? 'met' : 'missed'} (${typeof t.measured === 'number' ? t.measured.toFixed(2) : t.measured}, target ${t.target})`)
  console.log(`written to ${writeResults('advance', { flags, limit, windowMs, concurrency, runs, report, progressions: total, memoryRuns, memory: memoryReport, targets })}`)
}
