// Cold load: how long `require` takes in a fresh `node` process, and the process's RSS
// before it, after it and after the first call (a PATCH to the fake LaunchDarkly, in a
// separate process), for ld-release and LaunchDarkly's official client
// (launchdarkly-api-typescript). Each figure is measured inside the child with
// performance.now() and process.memoryUsage(); the clients take turns, the order
// rotating between runs. Also reports the size of the .node file and of the code each
// client loads.
//
//   node bench/load.mjs [--runs 7]
import { execFile } from 'node:child_process'
import { statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startFakeProcess } from './fake-process.mjs'
import { fmt, printTable, summary, writeResults } from './stats.mjs'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } })
const runs = Number(values.runs)

setTimeout(() => {
  console.error('load.mjs: gave up after 2 minutes')
  process.exit(1)
}, 120_000).unref()

const require = createRequire(import.meta.url)
const ldRelease = fileURLToPath(new URL('../index.js', import.meta.url))
const official = require.resolve('launchdarkly-api-typescript')
const nodeFile = fileURLToPath(new URL('../ld-release.linux-x64-gnu.node', import.meta.url))

// Runs in the child (CommonJS). MODULE is the path to require; KIND says how to call it.
const child = String.raw`
const { statSync } = require('node:fs')
const mib = () => process.memoryUsage().rss / 1048576
const { MODULE, KIND, FAKE_URL, FAKE_KEY } = process.env
;(async () => {
  const rssBefore = mib()
  const before = new Set(Object.keys(require.cache))
  const start = performance.now()
  const mod = KIND === 'none' ? null : require(MODULE)
  const requireMs = performance.now() - start
  const rssLoaded = mib()
  let loadedBytes = 0
  for (const file of Object.keys(require.cache)) if (!before.has(file)) loadedBytes += statSync(file).size
  const callStart = performance.now()
  if (KIND === 'ld-release') {
    const client = new mod.ReleaseClient({ apiKey: FAKE_KEY, baseUrl: FAKE_URL })
    await client.completePhase('bench', 'flag-0', 0)
  } else if (KIND === 'official') {
    const api = new mod.ReleasesBetaApi(new mod.Configuration({ apiKey: FAKE_KEY, basePath: FAKE_URL, baseOptions: { headers: { 'LD-API-Version': 'beta' } } }))
    await api.patchReleaseByFlagKey('bench', 'flag-0', [{ op: 'replace', path: '/phases/0/complete', value: true }])
  } else {
    const res = await fetch(FAKE_URL + '/api/v2/flags/bench/flag-0/release', {
      method: 'PATCH',
      headers: { Authorization: FAKE_KEY, 'LD-API-Version': 'beta', 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify([{ op: 'replace', path: '/phases/0/complete', value: true }]),
    })
    JSON.parse(await res.text())
  }
  const firstCallMs = performance.now() - callStart
  const rssCalled = mib()
  process.stdout.write(JSON.stringify({ requireMs, firstCallMs, rssBefore, rssLoaded, rssCalled, loadedBytes }))
})().catch((error) => {
  console.error(error)
  process.exit(1)
})
`

const targets = {
  'ld-release': { MODULE: ldRelease, KIND: 'ld-release' },
  'launchdarkly-api-typescript': { MODULE: official, KIND: 'official' },
  // For scale: a bare process whose first call is a fetch (nothing to require).
  'node alone (first call: fetch)': { MODULE: '', KIND: 'none' },
}

function measure(fake, env) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-e', child],
      { env: { ...process.env, ...env, FAKE_URL: fake.url, FAKE_KEY: fake.apiKey }, timeout: 30_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout))),
    )
  })
}

const names = Object.keys(targets)
const measured = Object.fromEntries(names.map((name) => [name, []]))
const fake = await startFakeProcess({ flags: 1 })
try {
  for (let run = 0; run < runs; run++) {
    for (const name of names.map((_, i) => names[(i + run) % names.length])) {
      measured[name].push(await measure(fake, targets[name]))
    }
    await fake.stats()
  }
} finally {
  await fake.close()
}

const keys = ['requireMs', 'rssBefore', 'rssLoaded', 'rssCalled', 'firstCallMs', 'loadedBytes']
const report = Object.fromEntries(
  names.map((name) => [name, Object.fromEntries(keys.map((key) => [key, summary(measured[name].map((r) => r[key]))]))]),
)
const perRun = (name, get) => summary(measured['ld-release'].map((r, i) => get(r) / get(measured[name][i])))
const ratio = {
  requireMs: perRun('launchdarkly-api-typescript', (r) => r.requireMs),
  rssLoadGrowth: perRun('launchdarkly-api-typescript', (r) => r.rssLoaded - r.rssBefore),
  rssCalledGrowth: perRun('launchdarkly-api-typescript', (r) => r.rssCalled - r.rssBefore),
}
const nodeBytes = statSync(nodeFile).size

printTable(
  `Load: require in a fresh node process, ${runs} interleaved runs (median (min–max)); RSS in MiB`,
  ['client', 'require ms', 'RSS before', 'RSS after require', 'RSS after first call', 'first call ms', 'code loaded (MiB)'],
  names.map((name) => {
    const r = report[name]
    const mibOf = (s) => ({ median: s.median / 1048576, min: s.min / 1048576, max: s.max / 1048576 })
    const loads = targets[name].KIND !== 'none'
    return [
      name,
      loads ? fmt(r.requireMs) : '–',
      fmt(r.rssBefore, 1),
      loads ? fmt(r.rssLoaded, 1) : '–',
      fmt(r.rssCalled, 1),
      fmt(r.firstCallMs),
      loads ? mibOf(r.loadedBytes).median.toFixed(2) : '–',
    ]
  }),
)
printTable(
  'ld-release / launchdarkly-api-typescript, per run (median (min–max)); lower is better',
  ['require time', 'RSS growth by require', 'RSS growth by require + first call'],
  [[fmt(ratio.requireMs), fmt(ratio.rssLoadGrowth), fmt(ratio.rssCalledGrowth)]],
)
console.log(`\n.node file: ${(nodeBytes / 1048576).toFixed(2)} MiB (${nodeBytes} bytes, ${nodeFile.split('/').pop()})`)
const met = ratio.requireMs.median <= 0.1
console.log(`Target: load ≤ 1/10 of the official client's: ${met ? 'met' : 'MISSED'} (${ratio.requireMs.median.toFixed(3)})`)
console.log(`written to ${writeResults('load', { runs, node: process.version, nodeFileBytes: nodeBytes, report, ratio, target: { requireRatio: ratio.requireMs.median, met }, runsRaw: measured })}`)
