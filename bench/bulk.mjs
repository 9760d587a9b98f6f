// Bulk completion under a rate limit: ld-release's completePhases (one shared gate per
// client) against a naive baseline (each request retries on its own), both against the
// fake LaunchDarkly in a separate process, limited to `limit` requests per `window` ms.
// Reports wall time as a ratio to the ideal (items / limit × window) and 429s per window,
// as the median (min–max) of interleaved runs.
//
//   node bench/bulk.mjs [--items 200] [--limit 20] [--window 1000] [--runs 3] [--concurrency 16]
import { parseArgs } from 'node:util'
import { ReleaseClient } from '../index.js'
import { startFakeProcess } from './fake-process.mjs'
import { fmt, printTable, summary, writeResults } from './stats.mjs'

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '200' },
    limit: { type: 'string', default: '20' },
    window: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
  },
})
const items = Number(values.items)
const limit = Number(values.limit)
const windowMs = Number(values.window)
const runs = Number(values.runs)
const concurrency = Number(values.concurrency)
const idealMs = (items / limit) * windowMs

const work = Array.from({ length: items }, (_, i) => ({ projectKey: 'bench', flagKey: `flag-${i}`, phase: 0 }))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function ldRelease(fake) {
  const client = new ReleaseClient({ apiKey: fake.apiKey, baseUrl: fake.url, maxRetries: 10 })
  const results = await client.completePhases(work, { concurrency })
  return results.filter((r) => r.ok).length
}

// What a script does without a shared gate: every request honours the server's answer,
// on its own.
async function naive(fake) {
  let next = 0
  let ok = 0
  const one = async (item) => {
    for (let attempt = 0; attempt <= 10; attempt++) {
      const res = await fetch(`${fake.url}/api/v2/flags/${item.projectKey}/${item.flagKey}/release`, {
        method: 'PATCH',
        headers: { Authorization: fake.apiKey, 'LD-API-Version': 'beta', 'Content-Type': 'application/json' },
        body: JSON.stringify([{ op: 'replace', path: `/phases/${item.phase}/complete`, value: true }]),
      })
      const body = await res.text()
      if (res.ok) {
        JSON.parse(body)
        return true
      }
      if (res.status !== 429) return false
      const reset = Number(res.headers.get('x-ratelimit-reset'))
      const retryAfter = Number(res.headers.get('retry-after'))
      const wait = reset ? reset - Date.now() : retryAfter ? retryAfter * 1000 : 250 * 2 ** attempt
      await sleep(Math.max(0, wait) + Math.random() * 100)
    }
    return false
  }
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < work.length) if (await one(work[next++])) ok++
    }),
  )
  return ok
}

const peers = { 'ld-release': ldRelease, 'naive retries': naive }
const measured = Object.fromEntries(Object.keys(peers).map((name) => [name, { ratio: [], per429: [], total429: [], ok: [] }]))
for (let run = 0; run < runs; run++) {
  for (const [name, fn] of Object.entries(peers)) {
    const fake = await startFakeProcess({ flags: items, rateLimit: { limit, windowMs } })
    try {
      const start = performance.now()
      const ok = await fn(fake)
      const elapsed = performance.now() - start
      const { rateLimited } = await fake.stats()
      const windows = Math.max(1, Math.ceil(elapsed / windowMs))
      const m = measured[name]
      m.ratio.push(elapsed / idealMs)
      m.total429.push(rateLimited)
      m.per429.push(rateLimited / windows)
      m.ok.push(ok)
      console.error(`run ${run + 1}/${runs} ${name}: ${elapsed.toFixed(0)} ms, ${ok}/${items} ok, ${rateLimited} × 429`)
    } finally {
      await fake.close()
    }
  }
}

const report = Object.fromEntries(
  Object.entries(measured).map(([name, m]) => [
    name,
    { timeToIdeal: summary(m.ratio), rateLimitedPerWindow: summary(m.per429), rateLimited: summary(m.total429), succeeded: summary(m.ok) },
  ]),
)
printTable(
  `Bulk: ${items} items, limit ${limit} per ${windowMs} ms, concurrency ${concurrency}, ideal ${idealMs} ms, ${runs} runs (median (min–max))`,
  ['client', 'time / ideal', '429s per window', '429s in all', 'succeeded'],
  Object.entries(report).map(([name, r]) => [name, fmt(r.timeToIdeal), fmt(r.rateLimitedPerWindow), fmt(r.rateLimited, 0), fmt(r.succeeded, 0)]),
)
const base = report['naive retries']
const ours = report['ld-release']
console.log(`\nld-release / naive: time ${(ours.timeToIdeal.median / base.timeToIdeal.median).toFixed(2)}×, 429s ${(ours.rateLimited.median / Math.max(1, base.rateLimited.median)).toFixed(2)}×`)
console.log(`written to ${writeResults('bulk', { items, limit, windowMs, concurrency, idealMs, runs, report })}`)
