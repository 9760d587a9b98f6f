// advancePipeline under a rate limit, and listing progressions in flat memory.
//
// 1. Advance: every flag at the first phase of a pipeline moved on with one
//    `advancePipeline` call, against the fake LaunchDarkly in a separate process limited to
//    `limit` requests per `window` ms (per route, as the fake limits). Reported as the wall
//    time over the ideal for the requests it sends (requests answered / limit × window)
//    and 429s per window, for a legacy pipeline (guarded PATCHes) and a new one (PUTs that
//    start the next phase). The peer, in the same run, is what a script does without
//    advancePipeline: list the flags with listReleaseProgressions, then completePhases by
//    index (legacy pipeline only: on a new one completePhases by index first sends a PATCH
//    that is refused).
// 2. Memory: listing `progressions` progressions with listReleaseProgressions, in a fresh
//    process each, counting them as they come ("streamed"), against holding them all in
//    an array ("held"), and against streaming a tenth as many. RSS after gc() before the
//    list, its peak sampled at every page, and after.
//
//   node bench/advance.mjs [--flags 200] [--limit 20] [--window 1000] [--runs 3] [--concurrency 16] [--progressions 10000] [--memory-runs 3]
//
// Targets: the advance within 1.15× the ideal, at most one 429 per window; the streamed
// list's peak RSS growth for `progressions` within 2 MiB of that for a tenth as many.
import { spawn, execFileSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
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
    'memory-child': { type: 'string' },
  },
})
const SELF = fileURLToPath(import.meta.url)
const PROJECT = 'bench'
const PIPELINES = { legacy: 'standard-rollout', new: 'progressive-rollout' }

if (values.fake !== undefined) await serveFake(JSON.parse(values.fake))
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
      process.stdout.write(JSON.stringify({ requests: fake.requests.length, rateLimited: fake.rateLimited, writes }) + '\n')
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

/** Starts the fake in a child process (this file with --fake) and talks to it line by line. */
async function startFake(options) {
  const child = spawn(process.execPath, [SELF, '--fake', JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const waiting = []
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)))
  const next = () => new Promise((resolve) => waiting.push(resolve))
  const { url, apiKey } = await next()
  return {
    url,
    apiKey,
    stats() {
      const answer = next()
      child.stdin.write('stats\n')
      return answer
    },
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.stdin.end('close\n')
      await exited
    },
  }
}

/**
 * One memory measurement, in a fresh process: lists every progression of the legacy
 * pipeline, `mode` "streamed" (counted, nothing kept) or "held" (kept in an array).
 * Prints `{ count, pages, rssBeforeMiB, rssPeakMiB, rssAfterMiB }`.
 */
async function memoryChild({ url, apiKey, mode, count: expected }) {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc')
  const { ReleaseClient } = await import('../index.js')
  const client = new ReleaseClient({ apiKey, baseUrl: url })
  const rss = () => process.memoryUsage().rss / 1024 / 1024
  // Warm up: one list of a few items, so the first page's code paths are loaded.
  for await (const p of client.listReleaseProgressions(PROJECT, PIPELINES.legacy)) if (p) break
  gc()
  const before = rss()
  let peak = before
  let count = 0
  const held = []
  for await (const progression of client.listReleaseProgressions(PROJECT, PIPELINES.legacy)) {
    if (mode === 'held') held.push(progression)
    if (++count % 50 === 0) peak = Math.max(peak, rss())
    if (count >= expected) break
  }
  peak = Math.max(peak, rss())
  const kept = held.length
  gc()
  const after = rss()
  process.stdout.write(JSON.stringify({ count, kept, rssBeforeMiB: before, rssPeakMiB: peak, rssAfterMiB: after }) + '\n')
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
  const measured = Object.fromEntries(Object.keys(peers).map((name) => [name, { ratio: [], ratioWrites: [], ms: [], per429: [], total429: [], sent: [], ok: [] }]))
  for (let run = 0; run < runs; run++) {
    for (const [name, { kind, fn }] of Object.entries(peers)) {
      const fake = await startFake({ kind, flags, rateLimit })
      try {
        const start = performance.now()
        const ok = await fn(ReleaseClient, fake, kind, concurrency)
        const elapsed = performance.now() - start
        const { requests, rateLimited, writes } = await fake.stats()
        const answered = requests - rateLimited
        const windows = Math.max(1, Math.ceil(elapsed / windowMs))
        const m = measured[name]
        m.ms.push(elapsed)
        m.ratio.push(elapsed / ((answered / limit) * windowMs))
        m.ratioWrites.push(elapsed / ((flags / limit) * windowMs))
        m.total429.push(rateLimited)
        m.per429.push(rateLimited / windows)
        m.sent.push(answered)
        m.ok.push(ok)
        console.error(`run ${run + 1}/${runs} ${name}: ${elapsed.toFixed(0)} ms, ${ok}/${flags} moved, ${answered} requests answered (${writes} writes), ${rateLimited} × 429`)
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
        rateLimited: summary(m.total429),
        requests: summary(m.sent),
        moved: summary(m.ok),
      },
    ]),
  )
  printTable(
    `Advance: ${flags} flags at phase 0, limit ${limit} per ${windowMs} ms per route, concurrency ${concurrency}, ${runs} runs (median (min–max))`,
    ['client', 'ms', 'time / ideal', 'time / ideal of the writes', '429s per window', '429s in all', 'requests answered', 'moved'],
    Object.entries(report).map(([name, r]) => [name, fmt(r.ms, 0), fmt(r.timeToIdeal), fmt(r.timeToIdealOfWrites), fmt(r.rateLimitedPerWindow), fmt(r.rateLimited, 0), fmt(r.requests, 0), fmt(r.moved, 0)]),
  )
  const ours = report['advancePipeline, legacy pipeline']
  const peer = report['listReleaseProgressions + completePhases, legacy']
  console.log(`\nadvancePipeline / list + completePhases (legacy): time ${(ours.ms.median / peer.ms.median).toFixed(2)}×`)

  // Memory: a fake holding `progressions` flags, no rate limit; each measurement in a fresh process.
  const total = Number(values.progressions)
  const memoryRuns = Number(values['memory-runs'])
  const fake = await startFake({ kind: 'legacy', flags: total })
  const modes = [
    { name: `streamed, ${total / 10}`, mode: 'streamed', count: total / 10 },
    { name: `streamed, ${total}`, mode: 'streamed', count: total },
    { name: `held in an array, ${total}`, mode: 'held', count: total },
  ]
  const memory = Object.fromEntries(modes.map((m) => [m.name, { growth: [], peak: [], after: [], before: [], count: [] }]))
  try {
    for (let run = 0; run < memoryRuns; run++) {
      for (const { name, mode, count } of modes) {
        const out = JSON.parse(execFileSync(process.execPath, [SELF, '--memory-child', JSON.stringify({ url: fake.url, apiKey: fake.apiKey, mode, count })], { encoding: 'utf8' }))
        const m = memory[name]
        m.before.push(out.rssBeforeMiB)
        m.peak.push(out.rssPeakMiB - out.rssBeforeMiB)
        m.after.push(out.rssAfterMiB - out.rssBeforeMiB)
        m.count.push(out.count)
        console.error(`memory run ${run + 1}/${memoryRuns} ${name}: ${out.count} listed, RSS ${out.rssBeforeMiB.toFixed(1)} → peak ${out.rssPeakMiB.toFixed(1)} → ${out.rssAfterMiB.toFixed(1)} MiB`)
      }
    }
    const { requests } = await fake.stats()
    console.error(`the fake answered ${requests} page requests in all`)
  } finally {
    await fake.close()
  }
  const memoryReport = Object.fromEntries(Object.entries(memory).map(([name, m]) => [name, { rssBeforeMiB: summary(m.before), peakGrowthMiB: summary(m.peak), growthAfterMiB: summary(m.after), listed: summary(m.count) }]))
  printTable(
    `Listing progressions, each in a fresh process, ${memoryRuns} runs (median (min–max))`,
    ['list', 'listed', 'RSS before (MiB)', 'peak growth (MiB)', 'growth after gc (MiB)'],
    Object.entries(memoryReport).map(([name, r]) => [name, fmt(r.listed, 0), fmt(r.rssBeforeMiB, 1), fmt(r.peakGrowthMiB, 1), fmt(r.growthAfterMiB, 1)]),
  )
  const small = memoryReport[modes[0].name].peakGrowthMiB.median
  const large = memoryReport[modes[1].name].peakGrowthMiB.median
  const held = memoryReport[modes[2].name].peakGrowthMiB.median
  console.log(`\nstreamed ${total}: peak growth ${large.toFixed(1)} MiB, against ${small.toFixed(1)} MiB for ${total / 10} and ${held.toFixed(1)} MiB held`)
  const targets = {
    timeToIdeal: { target: 1.15, measured: ours.timeToIdeal.median, met: ours.timeToIdeal.median <= 1.15 && report['advancePipeline, new pipeline'].timeToIdeal.median <= 1.15 },
    rateLimitedPerWindow: { target: 1, measured: ours.rateLimitedPerWindow.max, met: Object.keys(peers).slice(0, 2).every((n) => report[n].rateLimitedPerWindow.max <= 1) },
    flatMemory: { target: `within 2 MiB of the list of ${total / 10}`, measured: large - small, met: large - small <= 2 },
  }
  for (const [name, t] of Object.entries(targets)) console.log(`${name}: ${t.met ? 'met' : 'missed'} (${typeof t.measured === 'number' ? t.measured.toFixed(2) : t.measured}, target ${t.target})`)
  console.log(`written to ${writeResults('advance', { flags, limit, windowMs, concurrency, runs, report, progressions: total, memoryRuns, memory: memoryReport, targets })}`)
}
