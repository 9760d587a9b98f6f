'use strict'
// The kind of a release's pipeline, read as the library reads it before it moves a
// phase: the library's getReleasePipeline (`GET /api/v2/projects/{project}/release-pipelines/{key}`),
// whose `_isLegacy` says. `false` is a new pipeline; any other answer counts as legacy; a
// read the server refuses (403, 404) leaves the kind unknown, and the library then sends
// the PATCH.
//
// The commands that must know the kind before they send anything (dry runs, and
// `status`, to draw a finished release) read it here. The read is one of the library's
// calls: it goes through a proxy when one is set, retries as the others do, and its
// errors mask the token.

/** The library's codes for a pipeline read the server refused: the kind stays unknown. */
const REFUSED = new Set(['ERR_LD_FORBIDDEN', 'ERR_LD_NOT_FOUND'])

/**
 * The kind of pipeline `pipelineKey` of project `projectKey`, read with `client`:
 * `{ kind: 'legacy' | 'new' }`, or `{ kind: 'unknown', why }` when the release names no
 * pipeline or the server refuses the read (403, 404). Any other failure throws the
 * library's error. `retries` overrides --retries.
 */
async function pipelineKind(ctx, client, projectKey, pipelineKey, { retries } = {}) {
  if (typeof pipelineKey !== 'string' || pipelineKey === '') return { kind: 'unknown', why: 'the release names no release pipeline' }
  const options = retries === undefined ? undefined : { maxRetries: retries }
  let pipeline
  try {
    pipeline = await client.getReleasePipeline(projectKey, pipelineKey, options)
  } catch (error) {
    if (ctx.ld.isLaunchDarklyError(error) && REFUSED.has(error.code)) {
      return { kind: 'unknown', why: `reading release pipeline ${JSON.stringify(pipelineKey)} was refused (HTTP ${error.status})` }
    }
    throw error
  }
  return { kind: isNewPipeline(pipeline) ? 'new' : 'legacy' }
}

/** Whether `pipeline`, as the server sent it, is of the new kind: `_isLegacy` is `false`; anything else counts as legacy. */
function isNewPipeline(pipeline) {
  return pipeline !== null && typeof pipeline === 'object' && pipeline._isLegacy === false
}

module.exports = { isNewPipeline, pipelineKind }
