// Compiled by `npm test` (tsc --strict): the ESM types of `ld-release/testing`.
import {
  sampleNewPipeline,
  sampleNewPipelineRelease,
  samplePipeline,
  sampleRelease,
  sampleReleases,
  startFakeLaunchDarkly,
  type FakeEnvironmentRelease,
  type FakeFlag,
  type FakeLaunchDarkly,
  type Release,
  type ReleasePipeline,
} from '../testing/index.mjs'

export async function useTheFake(): Promise<number> {
  const release: Release = sampleRelease({ _version: 2 })
  const fake: FakeLaunchDarkly = await startFakeLaunchDarkly({
    releases: [{ projectKey: 'web', flagKey: 'checkout', release }],
    rateLimit: { limit: 20, windowMs: 1000 },
  })
  const pipelines: ReleasePipeline[] = [samplePipeline(), sampleNewPipeline({ name: 'Fast' })]
  const sparse: Release = sampleNewPipelineRelease()
  const both = await startFakeLaunchDarkly({
    releases: [...sampleReleases(), { projectKey: 'web', flagKey: 'new', release: sparse }],
    pipelines: pipelines.map((pipeline) => ({ projectKey: 'web', pipeline })),
  })
  await both.close()
  fake.injectFault({ status: 503, body: '<html>down</html>', times: 2 })
  fake.injectFault({ match: { method: 'PATCH' }, drop: 'mid-body' })
  fake.injectFault({ match: { method: 'PUT' }, applied: true, drop: 'before-response' })
  // @ts-expect-error applied is a boolean
  fake.injectFault({ applied: 'yes' })
  // @ts-expect-error not a kind of fault
  fake.injectFault({ explode: true })
  const count: number = fake.requests.length + fake.rateLimited
  await fake.close()
  return count
}

export async function environmentReleases(): Promise<string> {
  const fake = await startFakeLaunchDarkly({
    clock: { start: Date.UTC(2026, 9, 1), speed: 0 },
    releasePendingMs: 1000,
    failingHealthChecks: ['flag_evaluations_any'],
    approvalsRequired: [{ projectKey: 'web', environmentKey: 'production' }],
    releasePlans: [{ projectKey: 'web', environmentKey: 'test', plan: { key: 'standard', randomizationUnit: 'user', phases: [] } }],
    flags: [{ projectKey: 'web', flag: { key: 'colors', variations: [{ value: 'red' }, { value: 'blue' }] } }],
  })
  fake.failStartAnswer({ drop: true, times: 2 })
  const now: number = fake.advance(60_000)
  fake.setHealthChecks([], { environmentKey: 'test' })
  // @ts-expect-error not a health check
  fake.setHealthChecks(['everything'])
  fake.setApprovalsRequired('web', 'production', false)
  fake.setFlagOn('web', 'colors', 'test', true)
  const flag: FakeFlag | undefined = fake.getFlag('web', 'colors')
  const release: FakeEnvironmentRelease = fake.reportRegression('id', 'checkout-errors')
  const index: number | null = release.currentPhaseIndex
  fake.dismissRegression('id', 'checkout-errors')
  fake.continueRelease('id')
  await fake.close()
  return `${now} ${flag?.variations[0]._id} ${index} ${fake.now()} ${fake.getEnvironmentRelease('id').status}`
}
