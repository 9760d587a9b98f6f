// Following an environment release: the requests watchEnvironmentRelease sends to follow
// a 4-phase progressive release of one hour to `completed`, and how late it tells each
// change after the fake LaunchDarkly makes it, against a peer that reads the release every
// 5 s, in the same run, on the same release.
//
// The release runs on the fake's clock, sped up `--speed` times (default 60: the hour in
// a minute). Its four phases (one rule each, `automatic` advancement) have three steps of
// 5 minutes (25%, 50%, 100% of the rule's contexts). The watch reads the fake's `Date`
// headers as it reads any server's: it finds the fake's clock an offset away and, from
// its second reading on, running `--speed` times faster than its own, and times its reads
// by the release's steps on that clock (see "Following the fake's clock" in
// bench/README.md). The peer reads every 5 s of fake time (5000 / speed real ms) with
// `fetch`.
//
// Changes are the fake's: each step's `startedAt` (a step, or a phase, begins) and the
// release's `endedAt` (completed). Lateness is the fake's time when a client has the
// change in hand (the watch's iterator yields it; the peer's answer is parsed) minus
// the change's time, both fake ms. The fake runs in this process, where its clock can
// be read at the moment a change is in hand; the watch's reads run on the addon's own
// thread.
//
//   node bench/watch.mjs [--speed 60] [--runs 3]
//
// Targets: the watch sends at most 1/5 of the peer's requests, and tells every change
// within 2 s of fake time (the largest lateness of every run).
import { parseArgs } from 'node:util'
import { createRequire } from 'node:module'
import { printTable, summary, writeResults } from './stats.mjs'

const require = createRequire(import.meta.url)
const ld = require('../index.js')
const { startFakeLaunchDarkly } = require('../testing/index.js')

const { values } = parseArgs({
  options: {
    speed: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
  },
})
const SPEED = Number(values.speed)
const RUNS = Number(values.runs)
if (!(SPEED >= 1) || !(RUNS >= 1)) throw new Error('--speed and --runs must be numbers >= 1')

const PROJECT = 'web'
const FLAG = 'new-checkout'
const ENV = 'production'
const MINUTE = 60_000
const PEER_INTERVAL = 5_000
const KIND = { contextKind: 'user', attribute: 'kind', op: 'in', values: ['user'] }
const WATCH_AGENT = 'bench-watch'
const PEER_AGENT = 'bench-peer'

/** The state a person would see: status, phase, step. */
const stateOf = (r) => {
  const phase = r.currentPhaseIndex ?? null
  return `${r.status}:${phase}:${phase === null ? null : r.phases[phase].currentStepIndex}`
}

/** When the fake made the state `r` shows: its step's start, or the release's end. */
function changeTime(r) {
  if (r.status === 'completed' || r.status === 'reverted') return r.endedAt
  const phase = r.phases[r.currentPhaseIndex]
  return phase.steps[phase.currentStepIndex].startedAt
}

async function run() {
  const fake = await startFakeLaunchDarkly({ clock: { speed: SPEED } })
  try {
    fake.setFlagOn(PROJECT, FLAG, ENV, true)
    const flag = fake.getFlag(PROJECT, FLAG)
    const id = (value) => flag.variations.find((v) => v.value === value)._id
    const client = new ld.ReleaseClient({ apiKey: fake.apiKey, baseUrl: fake.url, userAgent: WATCH_AGENT })
    const started = await client.startEnvironmentRelease(PROJECT, FLAG, ENV, {
      originalVariationId: id(false),
      targetVariationId: id(true),
      randomizationUnit: 'user',
      advancementMode: 'automatic',
      phases: [0, 1, 2, 3].map((i) => ({
        clauses: [KIND, { contextKind: 'user', attribute: 'segment', op: 'in', values: [`wave-${i}`] }],
        description: `Wave ${i}`,
        steps: [25_000, 50_000, 100_000].map((allocation) => ({ allocation, durationMillis: 5 * MINUTE })),
      })),
    })
    const t0 = fake.now()

    const watched = []
    const watching = (async () => {
      for await (const r of client.watchEnvironmentRelease(PROJECT, FLAG, ENV, started.id)) {
        watched.push({ state: stateOf(r), at: fake.now(), release: r })
      }
    })()

    const polled = []
    const url = `${fake.url}/api/v2/projects/${PROJECT}/flags/${FLAG}/environments/${ENV}/releases/${started.id}`
    const headers = { Authorization: fake.apiKey, 'LD-API-Version': 'beta', 'User-Agent': PEER_AGENT }
    const polling = (async () => {
      let last = null
      for (;;) {
        const sent = fake.now()
        const r = await (await fetch(url, { headers })).json()
        const state = stateOf(r)
        if (state !== last) polled.push({ state, at: fake.now(), release: r })
        last = state
        if (r.status === 'completed' || r.status === 'reverted') return
        const wait = Math.max(0, sent + PEER_INTERVAL - fake.now()) / SPEED
        await new Promise((resolve) => setTimeout(resolve, wait))
      }
    })()
    await Promise.all([watching, polling])

    const final = fake.getEnvironmentRelease(started.id)
    const count = (agent) => fake.requests.filter((q) => q.method === 'GET' && q.path.endsWith(`/releases/${started.id}`) && q.headers['user-agent']?.includes(agent)).length
    // Every change the fake made: each step's start after the first, and the end.
    const changes = final.phases.flatMap((p, pi) => p.steps.map((s, si) => ({ state: `in_progress:${pi}:${si}`, at: s.startedAt }))).slice(1)
    changes.push({ state: 'completed:null:null', at: final.endedAt })
    const lateness = (seen) => {
      const told = new Map(seen.slice(1).map((s) => [s.state, s.at - changeTime(s.release)]))
      return { late: changes.map((c) => told.get(c.state)).filter((v) => v !== undefined), missed: changes.filter((c) => !told.has(c.state)).length }
    }
    return {
      hourMs: final.endedAt - t0,
      watch: { requests: count(WATCH_AGENT), ...lateness(watched) },
      peer: { requests: count(PEER_AGENT), ...lateness(polled) },
    }
  } finally {
    await fake.close()
  }
}

const results = []
for (let i = 0; i < RUNS; i++) {
  const r = await run()
  results.push(r)
  console.error(`run ${i + 1}/${RUNS}: watch ${r.watch.requests} requests, peer ${r.peer.requests}; largest lateness ${Math.max(...r.watch.late)} ms vs ${Math.max(...r.peer.late)} ms`)
}

const s = (f) => summary(results.map(f))
const range = (x, d = 0) => `${x.median.toFixed(d)} (${x.min.toFixed(d)}–${x.max.toFixed(d)})`
const row = (name, pick) => {
  const requests = s((r) => pick(r).requests)
  const median = s((r) => summary(pick(r).late).median)
  const max = s((r) => Math.max(...pick(r).late))
  const missed = s((r) => pick(r).missed)
  return [name, range(requests), range(median), range(max), range(missed)]
}
printTable(
  `Following a 4-phase progressive release of one hour (12 steps of 5 min: 12 changes after the start) to completed, fake clock at ${SPEED}× real time, ${RUNS} runs: median (min–max)`,
  ['client', 'requests', 'median lateness (fake ms)', 'largest lateness (fake ms)', 'changes not seen'],
  [row('watchEnvironmentRelease', (r) => r.watch), row('peer: a read every 5 s', (r) => r.peer)],
)
const ratio = s((r) => r.watch.requests / r.peer.requests)
const worst = Math.max(...results.flatMap((r) => r.watch.late))
const missed = results.reduce((n, r) => n + r.watch.missed, 0)
console.log(`\nwatch / peer requests: ${range(ratio, 3)} (goal: at most 0.2) ${ratio.max <= 0.2 ? 'met' : 'NOT MET'}`)
console.log(`watch's largest lateness: ${worst} fake ms, ${(worst / 2000).toFixed(2)}× the 2,000 ms goal; changes not seen: ${missed} ${worst <= 2000 && missed === 0 ? 'met' : 'NOT MET'}`)
console.log(`peer's largest lateness: ${Math.max(...results.flatMap((r) => r.peer.late))} fake ms`)
const file = writeResults('watch', { speed: SPEED, runs: results })
console.log(`\n(results in ${file})`)
