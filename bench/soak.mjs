// Soak: many calls through one client against the fake LaunchDarkly (separate process).
// Reports this process's RSS after a warm-up and after the run, and the most sockets it
// held open at once, sampled from /proc/self/fd.
//
//   node --expose-gc bench/soak.mjs [--calls 20000] [--concurrency 32]
import { readdirSync, readlinkSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ReleaseClient } from '../index.js'
import { startFakeProcess } from './fake-process.mjs'
import { printTable, writeResults } from './stats.mjs'

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '32' },
  },
})
const calls = Number(values.calls)
const concurrency = Number(values.concurrency)

function openSockets() {
  if (process.platform !== 'linux') return NaN
  let count = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) count++
    } catch {
      // closed while we looked
    }
  }
  return count
}
const rssMiB = () => {
  globalThis.gc?.()
  return process.memoryUsage().rss / 1024 / 1024
}

const fake = await startFakeProcess({ flags: 1 })
const client = new ReleaseClient({ apiKey: fake.apiKey, baseUrl: fake.url })
const socketsAtStart = openSockets()
let done = 0
let failed = 0
let maxSockets = 0
const runCalls = async (count) => {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) {
        const phase = next % 2
        try {
          await (phase ? client.completePhase('bench', 'flag-0', 0) : client.reopenPhase('bench', 'flag-0', 0))
        } catch {
          failed++
        }
        if (++done % 500 === 0) {
          maxSockets = Math.max(maxSockets, openSockets())
          await fake.stats() // lets the fake forget what it recorded
        }
      }
    }),
  )
}

await runCalls(1000)
const before = rssMiB()
const start = performance.now()
await runCalls(calls)
const elapsed = performance.now() - start
const after = rssMiB()
await fake.close()

const result = {
  calls,
  concurrency,
  failed,
  seconds: elapsed / 1000,
  callsPerSecond: calls / (elapsed / 1000),
  rssBeforeMiB: before,
  rssAfterMiB: after,
  rssGrowthMiB: after - before,
  socketsAtStart,
  maxSocketsDuringRun: maxSockets,
}
printTable(
  `Soak: ${calls} calls through one ReleaseClient, ${concurrency} in flight`,
  ['calls', 'failed', 'seconds', 'RSS before (MiB)', 'RSS after (MiB)', 'growth (MiB)', 'max sockets open'],
  [[calls, failed, result.seconds.toFixed(1), before.toFixed(1), after.toFixed(1), result.rssGrowthMiB.toFixed(1), maxSockets]],
)
console.log(`written to ${writeResults('soak', result)}`)
if (result.rssGrowthMiB >= 10) console.log('RSS grew by 10 MiB or more')
