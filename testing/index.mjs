import fake from './index.js'

export const { startFakeLaunchDarkly, sampleRelease } = fake
