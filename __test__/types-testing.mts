// Compiled by `npm test` (tsc --strict): the ESM types of `ld-release/testing`.
import {
  sampleNewPipeline,
  sampleNewPipelineRelease,
  samplePipeline,
  sampleRelease,
  sampleReleases,
  startFakeLaunchDarkly,
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
  // @ts-expect-error not a kind of fault
  fake.injectFault({ explode: true })
  const count: number = fake.requests.length + fake.rateLimited
  await fake.close()
  return count
}
