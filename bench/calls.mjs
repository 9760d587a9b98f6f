// Calls per second and client CPU time per call: ld-release's completePhase against the
// peers a user would pick instead (Node's fetch + JSON.parse, LaunchDarkly's official
// launchdarkly-api-typescript client) and against the same calls from plain Rust
// (bench/ceiling, two ceilings): reqwest alone with the addon's settings, and the addon's
// own Rust core without the JavaScript boundary.
//
// Every client sends the same PATCH with the same headers to the fake LaunchDarkly in a
// separate process on 127.0.0.1: `calls` sequential calls, then `calls` with
// `concurrency` in flight, each block after `warmup` untimed calls at its own
// concurrency. The clients take turns within each run (the order rotates between runs),
// so every ratio compares figures taken under the same load on the machine; ratios are
// computed per run, then summarized as the median (min–max).
//
//   node bench/calls.mjs [--calls 2000] [--concurrency 64] [--runs 7] [--warmup 256] [--no-ceiling]
import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ReleaseClient } from '../index.js'
import { startFakeProcess } from './fake-process.mjs'
import { fmt, printTable, summary, writeResults } from './stats.mjs'

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '64' },
    runs: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '256' },
    'no-ceiling': { type: 'boolean', default: false },
  },
})
const calls = Number(values.calls)
const concurrency = Number(values.concurrency)
const runs = Number(values.runs)
const warmup = Number(values.warmup)

const require = createRequire(import.meta.url)
const { Configuration, ReleasesBetaApi } = require('launchdarkly-api-typescript')

const root = fileURLToPath(new URL('..', import.meta.url))
const ceilingManifest = fileURLToPath(new URL('./ceiling/Cargo.toml', import.meta.url))
const ceilingBinary = fileURLToPath(new URL('./ceiling/target/release/ld-release-ceiling', import.meta.url))

function buildCeiling() {
  if (values['no-ceiling']) return null
  const built = spawnSync('cargo', ['build', '--release', '--quiet', '--manifest-path', ceilingManifest], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 600_000,
  })
  if (built.status !== 0 || !existsSync(ceilingBinary)) {
    console.error('calls.mjs: could not build bench/ceiling; its row is left out (run with --no-ceiling to skip it)')
    return null
  }
  return ceilingBinary
}

const projectKey = 'bench'
const flagKey = 'flag-0'
const patch = () => [{ op: 'replace', path: '/phases/0/complete', value: true }]
const checkRelease = (release) => {
  if (!Array.isArray(release?.phases)) throw new Error('the answer is not a release')
}

// Each peer: a function that makes a client for the fake and returns one call.
const peers = {
  'ld-release': (fake) => {
    const client = new ReleaseClient({ apiKey: fake.apiKey, baseUrl: fake.url })
    return async () => checkRelease(await client.completePhase(projectKey, flagKey, 0))
  },
  'fetch + JSON.parse': (fake) => {
    const url = `${fake.url}/api/v2/flags/${projectKey}/${flagKey}/release`
    const headers = { Authorization: fake.apiKey, 'LD-API-Version': 'beta', 'Content-Type': 'application/json', Accept: 'application/json' }
    return async () => {
      const res = await fetch(url, { method: 'PATCH', headers, body: JSON.stringify(patch()) })
      const text = await res.text()
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${text}`)
      checkRelease(JSON.parse(text))
    }
  },
  // The official client does not send the beta header itself: it goes through baseOptions.
  'launchdarkly-api-typescript': (fake) => {
    const api = new ReleasesBetaApi(
      new Configuration({ apiKey: fake.apiKey, basePath: fake.url, baseOptions: { headers: { 'LD-API-Version': 'beta' } } }),
    )
    return async () => checkRelease((await api.patchReleaseByFlagKey(projectKey, flagKey, patch())).data)
  },
}

// `count` calls with `width` in flight. Every ~1000 calls the fake is asked for its
// stats, which makes it forget the requests it recorded (its memory stays flat).
async function drive(call, fake, count, width) {
  let started = 0
  let done = 0
  let failed = 0
  let firstError
  const asked = []
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
        if (++done % 1000 === 0) asked.push(fake.stats())
      }
    }),
  )
  await Promise.all(asked)
  return { failed, firstError }
}

async function measure(call, fake, width) {
  await drive(call, fake, warmup, width)
  const cpu = process.cpuUsage()
  const start = performance.now()
  const { failed, firstError } = await drive(call, fake, calls, width)
  const seconds = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  if (failed) console.error(`  ${failed} calls failed, the first with: ${firstError?.message}`)
  return { perSec: calls / seconds, cpuUs: (used.user + used.system) / calls, failed }
}

function runCeiling(binary, mode, fake) {
  return new Promise((resolve, reject) => {
    execFile(binary, [fake.url, fake.apiKey, String(calls), String(concurrency), String(warmup), mode], { timeout: 120_000 }, (error, stdout) => {
      if (error) return reject(error)
      const r = JSON.parse(stdout)
      resolve({
        sequential: { perSec: r.sequentialPerSec, cpuUs: r.sequentialCpuUsPerCall, failed: 0 },
        concurrent: { perSec: r.concurrentPerSec, cpuUs: r.concurrentCpuUsPerCall, failed: 0 },
      })
    })
  })
}

// The two ceilings, by row name: bench/ceiling's mode for each.
const CEILINGS = { 'plain Rust: ld-release core': 'core', 'plain Rust: reqwest alone': 'reqwest' }
const ceiling = buildCeiling() // bounded by its own 10-minute timeout
// Nothing here may run forever: give up 4 minutes after the build (the runs take about one).
setTimeout(() => {
  console.error('calls.mjs: gave up after 4 minutes')
  process.exit(1)
}, 240_000).unref()
const names = [...Object.keys(peers), ...(ceiling ? Object.keys(CEILINGS) : [])]
const loadBefore = loadavg()
const fake = await startFakeProcess({ flags: 1 })
const measured = Object.fromEntries(names.map((name) => [name, []]))
try {
  const callOf = Object.fromEntries(Object.entries(peers).map(([name, make]) => [name, make(fake)]))
  for (let run = 0; run < runs; run++) {
    const order = names.map((_, i) => names[(i + run) % names.length])
    for (const name of order) {
      const before = await fake.stats()
      const result =
        name in CEILINGS
          ? await runCeiling(ceiling, CEILINGS[name], fake)
          : { sequential: await measure(callOf[name], fake, 1), concurrent: await measure(callOf[name], fake, concurrency) }
      // The fake's CPU per request over the client's whole turn (warm-ups included): its
      // share of the same two cores.
      result.fakeCpuUs = ((await fake.stats()).cpuUs - before.cpuUs) / (2 * (warmup + calls))
      measured[name].push(result)
      console.error(
        `run ${run + 1}/${runs} ${name}: ${result.sequential.perSec.toFixed(0)}/s sequential, ` +
          `${result.concurrent.perSec.toFixed(0)}/s with ${concurrency} in flight`,
      )
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
const fakeCpu = (r) => r.fakeCpuUs
const report = Object.fromEntries(
  names.map((name) => [
    name,
    {
      ...Object.fromEntries(Object.entries(metrics).map(([key, get]) => [key, summary(measured[name].map(get))])),
      fakeCpuUsPerRequest: summary(measured[name].map(fakeCpu)),
      failed: measured[name].reduce((n, r) => n + r.sequential.failed + r.concurrent.failed, 0),
    },
  ]),
)
// ld-release / peer, per run (both figures from the same run), then summarized.
const ours = measured['ld-release']
const ratios = Object.fromEntries(
  names
    .filter((name) => name !== 'ld-release')
    .map((name) => [
      name,
      Object.fromEntries(
        Object.entries(metrics).map(([key, get]) => [key, summary(ours.map((r, i) => get(r) / get(measured[name][i])))]),
      ),
    ]),
)

printTable(
  `Calls: ${calls} sequential and ${calls} with ${concurrency} in flight, ${runs} interleaved runs (median (min–max))`,
  ['client', 'calls/s sequential', `calls/s ${concurrency} in flight`, 'CPU µs/call sequential', `CPU µs/call ${concurrency} in flight`, 'fake CPU µs/request'],
  names.map((name) => {
    const r = report[name]
    return [
      name,
      fmt(r.sequentialPerSec, 0),
      fmt(r.concurrentPerSec, 0),
      fmt(r.sequentialCpuUsPerCall, 1),
      fmt(r.concurrentCpuUsPerCall, 1),
      fmt(r.fakeCpuUsPerRequest, 1),
    ]
  }),
)
printTable(
  'ld-release / peer, per run (median (min–max)); for calls/s higher is better, for CPU lower is better',
  ['peer', 'calls/s sequential', `calls/s ${concurrency} in flight`, 'CPU/call sequential', `CPU/call ${concurrency} in flight`],
  Object.entries(ratios).map(([name, r]) => [
    name,
    fmt(r.sequentialPerSec),
    fmt(r.concurrentPerSec),
    fmt(r.sequentialCpuUsPerCall),
    fmt(r.concurrentCpuUsPerCall),
  ]),
)

const fetchRatio = ratios['fetch + JSON.parse']
const targets = [
  ['≥ 2× the calls/s of fetch sequentially', fetchRatio.sequentialPerSec.median, (v) => v >= 2],
  [`≥ 5× the calls/s of fetch with ${concurrency} in flight`, fetchRatio.concurrentPerSec.median, (v) => v >= 5],
  ['≤ 1/3 of the CPU per call of fetch, sequentially', fetchRatio.sequentialCpuUsPerCall.median, (v) => v <= 1 / 3],
  [`≤ 1/3 of the CPU per call of fetch, ${concurrency} in flight`, fetchRatio.concurrentCpuUsPerCall.median, (v) => v <= 1 / 3],
  ...Object.keys(CEILINGS)
    .filter((name) => ratios[name])
    .map((name) => [`≥ 80% of the calls/s of ${name} with ${concurrency} in flight`, ratios[name].concurrentPerSec.median, (v) => v >= 0.8]),
]
console.log('\nTargets (median ratio):')
for (const [what, value, ok] of targets) console.log(`  ${ok(value) ? 'met   ' : 'MISSED'} ${what}: ${value.toFixed(2)}`)
const failed = Object.values(report).reduce((n, r) => n + r.failed, 0)
if (failed) console.log(`\n${failed} calls failed in all (see above); their figures are not comparable`)
console.log(`\nload average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`)
console.log(
  `written to ${writeResults('calls', {
    calls,
    concurrency,
    runs,
    warmup,
    node: process.version,
    loadavgBefore: loadBefore,
    loadavgAfter: loadAfter,
    report,
    ratios,
    targets: targets.map(([what, value, ok]) => ({ what, value, met: ok(value) })),
    runsRaw: measured,
  })}`,
)
