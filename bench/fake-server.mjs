// The fake LaunchDarkly in its own process, for benchmarks: prints one JSON line
// `{ url, apiKey }` when it listens, answers `stats` on stdin with
// `{ requests, rateLimited, cpuUs }` (cpuUs: the process's CPU time so far, user + system;
// it forgets the recorded requests), and exits on `close`
// or when stdin ends.
// Options come as JSON in argv[2]: { flags, rateLimit: { limit, windowMs } }.
import { createInterface } from 'node:readline'
import { startFakeLaunchDarkly, sampleRelease } from '../testing/index.mjs'

const options = JSON.parse(process.argv[2] ?? '{}')
const flags = options.flags ?? 1
const releases = Array.from({ length: flags }, (_, i) => ({
  projectKey: 'bench',
  flagKey: `flag-${i}`,
  release: sampleRelease(),
}))
const fake = await startFakeLaunchDarkly({ releases, rateLimit: options.rateLimit })
process.stdout.write(JSON.stringify({ url: fake.url, apiKey: fake.apiKey }) + '\n')

const input = createInterface({ input: process.stdin })
input.on('line', async (line) => {
  if (line === 'stats') {
    const cpu = process.cpuUsage()
    process.stdout.write(JSON.stringify({ requests: fake.requests.length, rateLimited: fake.rateLimited, cpuUs: cpu.user + cpu.system }) + '\n')
    fake.clearRequests()
  } else if (line === 'close') {
    input.close()
  }
})
input.on('close', async () => {
  await fake.close()
  process.exit(0)
})
