import fake from './index.js'

export const { startFakeLaunchDarkly, sampleRelease, sampleNewPipelineRelease, samplePipeline, sampleNewPipeline } = fake
