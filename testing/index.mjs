import fake from './index.js'

export const { startFakeLaunchDarkly, sampleRelease, sampleNewPipelineRelease, sampleReleases, samplePipeline, sampleNewPipeline } = fake
