// What the diagnostics channels cost: ld-release's completePhase with nobody subscribed
// to `ld-release:*`, and with a subscriber on each of the four channels (it counts the
// messages, so every event is built and crosses to JavaScript), against Node's fetch in
// the same run. With `--baseline <file.node>`, another build of the addon (e.g. one from
// before the channels existed) runs in the same process as one more row, for a side by
// side comparison of the unsubscribed path.
//
// Same method as bench/calls.mjs: the fake LaunchDarkly in a separate process,
// `calls` sequential calls then `calls` with `concurrency` in flight, each after
// `warmup` untimed calls, the rows taking turns in an order that rotates between runs;
// ratios are taken per run, then summarized as the median (min–max).
//
//   node bench/diagnostics.mjs [--calls 2000] [--concurrency 64] [--runs 5] [--warmup 256] [--baseline file.node]
import dc from 'node:diagnostics_channel'
import { createRequire } from 'node:module'
import { loadavg } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ReleaseClient } from '../index.js'
import { startFakeProcess } from './fake-process.mjs'
import { fmt, printTable, summary, writeResults } from './stats.mjs'

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '64' },
    runs: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '256' },
    baseline: { type: 'string' },
  },
})
const calls = Number(values.calls)
const concurrency = Number(values.concurrency)
const runs = Number(values.runs)
const warmup = Number(values.warmup)

const CHANNELS = ['request', 'response', 'retry', 'wait'].map((name) => `ld-release:${name}`)
const projectKey = 'bench'
const flagKey = 'flag-0'
const checkRelease = (release) => {
  if (!Array.isArray(release?.phases)) throw new Error('the answer is not a release')
}

let published = 0
const count = () => published++

// Each row: a function that makes its call for the fake, and what it does around its turn.
const rows = {
  'ld-release, no subscriber': {
    make: (fake) => {
      const client = new ReleaseClient({ apiKey: fake.apiKey, baseUrl: fake.url })
      return async () => checkRelease(await client.completePhase(projectKey, flagKey, 0))
    },
  },
  'ld-release, a subscriber on each channel': {
    make: (fake) => {
      const client = new ReleaseClient({ apiKey: fake.apiKey, baseUrl: fake.url })
      return async () => checkRelease(await client.completePhase(projectKey, flagKey, 0))
    },
    before: () => CHANNELS.forEach((name) => dc.subscribe(name, count)),
    after: () => CHANNELS.forEach((name) => dc.unsubscribe(name, count)),
  },
  'fetch + JSON.parse': {
    make: (fake) => {
      const url = `${fake.url}/api/v2/flags/${projectKey}/${flagKey}/release`
      const headers = { Authorization: fake.apiKey, 'LD-API-Version': 'beta', 'Content-Type': 'application/json', Accept: 'application/json' }
      const body = JSON.stringify([{ op: 'replace', path: '/phases/0/complete', value: true }])
      return async () => {
        const res = await fetch(url, { method: 'PATCH', headers, body })
        const text = await res.text()
        if (!res.ok) throw new Error(`HTTP ${res.status}: ${text}`)
        checkRelease(JSON.parse(text))
      }
    },
  },
}
if (values.baseline) {
  const baseline = createRequire(import.meta.url)(resolve(values.baseline))
  rows['baseline build, no subscriber'] = {
    make: (fake) => {
      const client = new baseline.ReleaseClient({ apiKey: fake.apiKey, baseUrl: fake.url })
      return async () => checkRelease(await client.completePhase(projectKey, flagKey, 0))
    },
  }
}

async function drive(call, count, width) {
  let started = 0
  let failed = 0
  let firstError
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (started < count) {
        started++
        try {
          await call()
        } catch (error) {
          failed++
          firstError ??= error
        }
      }
    }),
  )
  return { failed, firstError }
}

async function measure(call, fake, width) {
  await drive(call, warmup, width)
  await fake.stats() // the fake forgets what it recorded
  const cpu = process.cpuUsage()
  const start = performance.now()
  const { failed, firstError } = await drive(call, calls, width)
  const seconds = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  if (failed) console.error(`  ${failed} calls failed, the first with: ${firstError?.message}`)
  return { perSec: calls / seconds, cpuUs: (used.user + used.system) / calls, failed }
}

setTimeout(() => {
  console.error('diagnostics.mjs: gave up after 10 minutes')
  process.exit(1)
}, 600_000).unref()
const names = Object.keys(rows)
const loadBefore = loadavg()
const fake = await startFakeProcess({ flags: 1 })
const measured = Object.fromEntries(names.map((name) => [name, []]))
const messagesPerCall = []
try {
  const callOf = Object.fromEntries(names.map((name) => [name, rows[name].make(fake)]))
  for (let run = 0; run < runs; run++) {
    const order = names.map((_, i) => names[(i + run) % names.length])
    for (const name of order) {
      rows[name].before?.()
      published = 0
      try {
        const result = { sequential: await measure(callOf[name], fake, 1), concurrent: await measure(callOf[name], fake, concurrency) }
        measured[name].push(result)
        if (rows[name].before) messagesPerCall.push(published / (2 * (warmup + calls)))
        console.error(
          `run ${run + 1}/${runs} ${name}: ${result.sequential.perSec.toFixed(0)}/s sequential, ` +
            `${result.concurrent.perSec.toFixed(0)}/s with ${concurrency} in flight`,
        )
      } finally {
        rows[name].after?.()
      }
    }
  }
} finally {
  await fake.close()
}
const loadAfter = loadavg()

const metrics = {
  sequentialPerSec: (r) => r.sequential.perSec,
  concurrentPerSec: (r) => r.concurrent.perSec,
  sequentialCpuUsPerCall: (r) => r.sequential.cpuUs,
  concurrentCpuUsPerCall: (r) => r.concurrent.cpuUs,
}
const report = Object.fromEntries(
  names.map((name) => [name, Object.fromEntries(Object.entries(metrics).map(([key, get]) => [key, summary(measured[name].map(get))]))]),
)
/** `a` / `b` per run for every metric, summarized. */
const ratio = (a, b) =>
  Object.fromEntries(Object.entries(metrics).map(([key, get]) => [key, summary(measured[a].map((r, i) => get(r) / get(measured[b][i])))]))

printTable(
  `Calls: ${calls} sequential and ${calls} with ${concurrency} in flight, ${runs} interleaved runs (median (min–max))`,
  ['client', 'calls/s sequential', `calls/s ${concurrency} in flight`, 'CPU µs/call sequential', `CPU µs/call ${concurrency} in flight`],
  names.map((name) => {
    const r = report[name]
    return [name, fmt(r.sequentialPerSec, 0), fmt(r.concurrentPerSec, 0), fmt(r.sequentialCpuUsPerCall, 1), fmt(r.concurrentCpuUsPerCall, 1)]
  }),
)
const none = 'ld-release, no subscriber'
const pairs = [
  ['subscribed / no subscriber', 'ld-release, a subscriber on each channel', none],
  ['no subscriber / fetch', none, 'fetch + JSON.parse'],
  ['subscribed / fetch', 'ld-release, a subscriber on each channel', 'fetch + JSON.parse'],
  ...(values.baseline
    ? [
        ['no subscriber / baseline build', none, 'baseline build, no subscriber'],
        ['baseline build / fetch', 'baseline build, no subscriber', 'fetch + JSON.parse'],
      ]
    : []),
]
const ratios = Object.fromEntries(pairs.map(([label, a, b]) => [label, ratio(a, b)]))
printTable(
  'Ratios, per run (median (min–max)); for calls/s higher is better, for CPU lower is better',
  ['ratio', 'calls/s sequential', `calls/s ${concurrency} in flight`, 'CPU/call sequential', `CPU/call ${concurrency} in flight`],
  Object.entries(ratios).map(([label, r]) => [label, fmt(r.sequentialPerSec, 3), fmt(r.concurrentPerSec, 3), fmt(r.sequentialCpuUsPerCall, 3), fmt(r.concurrentCpuUsPerCall, 3)]),
)
const perCall = summary(messagesPerCall)
console.log(`\nmessages per call with the subscriber: ${fmt(perCall, 1)} (request and response: 2 when nothing is retried)`)
const failed = names.reduce((n, name) => n + measured[name].reduce((m, r) => m + r.sequential.failed + r.concurrent.failed, 0), 0)
if (failed) console.log(`\n${failed} calls failed in all (see above); their figures are not comparable`)
console.log(`\nload average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`)
console.log(
  `written to ${writeResults('diagnostics', { calls, concurrency, runs, warmup, baseline: values.baseline ?? null, node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadAfter, report, ratios, messagesPerCall: perCall, runsRaw: measured })}`,
)
