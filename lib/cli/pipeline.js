'use strict'
// Whether a release's pipeline is of the new kind, read as the library reads it before it
// moves a phase: the library's getReleasePipeline (`GET
// /api/v2/projects/{project}/release-pipelines/{key}`), whose `_isLegacy` says. `false`
// is a new pipeline; any other answer, a read that fails, or a release that names no
// pipeline counts as legacy.
//
// `status` asks, to draw a release whose last phase is active as finished (a new
// pipeline's last phase is never completed). The read is one of the library's calls: it
// goes through a proxy when one is set, and its errors mask the token; it is not retried,
// and a failure of it only means the release is drawn as it is.

/** Whether pipeline `pipelineKey` of project `projectKey`, read with `client`, is of the new kind. */
async function isNewPipeline(client, projectKey, pipelineKey) {
  try {
    const pipeline = await client.getReleasePipeline(projectKey, pipelineKey, { maxRetries: 0 })
    return pipeline._isLegacy === false
  } catch {
    // Refused, failed, or no key to read (the library sends nothing for that).
    return false
  }
}

module.exports = { isNewPipeline }
