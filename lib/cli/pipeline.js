'use strict'
// The kind of a release's pipeline, read as the library reads it before it moves a
// phase: `GET /api/v2/projects/{project}/release-pipelines/{key}`, whose `_isLegacy`
// says. `false` is a new pipeline; any other answer counts as legacy; a read the server
// refuses (403, 404) leaves the kind unknown, and the library then sends the PATCH.
//
// The library makes this read inside its calls but does not offer it on its own, so the
// commands that must know the kind before they send anything (dry runs, and `status`,
// to draw a finished release) make it here: the same URL and headers as the library's
// requests, the same timeout and retries, no redirects followed. It goes to the
// instance directly: with a proxy set for it (HTTPS_PROXY, HTTP_PROXY) it is not made.

const { STATUS_CODES } = require('node:http')
const { ApiError } = require('./args.js')

const TOKEN_VARIABLES = ['LD_ACCESS_TOKEN', 'LAUNCHDARKLY_ACCESS_TOKEN']
const RETRIED = new Set([429, 500, 502, 503, 504])
/** The longest wait for a 429 that the library accepts; a longer one fails at once. */
const MAX_WAIT_MS = 60_000

/** The library's code for an HTTP status it did not expect. */
function codeFor(status) {
  if (status === 400 || status === 422) return 'ERR_LD_BAD_REQUEST'
  const known = { 401: 'ERR_LD_UNAUTHORIZED', 403: 'ERR_LD_FORBIDDEN', 404: 'ERR_LD_NOT_FOUND', 409: 'ERR_LD_CONFLICT', 429: 'ERR_LD_RATE_LIMITED' }
  return known[status] ?? (status >= 500 ? 'ERR_LD_SERVER' : 'ERR_LD_HTTP')
}

/** The proxy variable that applies to `url`, as the library chooses one; undefined when none does. */
function proxyFor(url, env) {
  const pick = (...names) => names.find((n) => typeof env[n] === 'string' && env[n].trim() !== '')
  const variable = url.protocol === 'https:' ? pick('HTTPS_PROXY', 'https_proxy') : pick('HTTP_PROXY', 'http_proxy')
  if (!variable) return undefined
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  const bypass = String(env.NO_PROXY ?? env.no_proxy ?? '')
    .split(',')
    .map((entry) => entry.trim().toLowerCase().replace(/^\*?\./, ''))
    .filter(Boolean)
  const direct = bypass.some((entry) => entry === '*' || host === entry || host.endsWith(`.${entry}`))
  return direct ? undefined : variable
}

/**
 * `{ url, headers }` of the pipeline read for a flag's release in `pipelineKey`: the
 * instance, path prefix and project segment of the library's own request for that
 * release, and its headers with the token itself.
 */
function pipelineRequest(ctx, projectKey, flagKey, pipelineKey) {
  const get = ctx.ld.previewRequest('GET', projectKey, flagKey, null, ctx.clientOptions)
  const url = get.url.replace(/\/api\/v2\/flags\/([^/]+)\/[^/]+\/release$/, (_, project) => `/api/v2/projects/${project}/release-pipelines/${encodeURIComponent(pipelineKey)}`)
  const fromEnv = TOKEN_VARIABLES.map((n) => ctx.io.env?.[n]).find((v) => typeof v === 'string' && v.trim() !== '')
  const token = ctx.clientOptions.apiKey ?? fromEnv?.trim()
  const headers = { ...get.headers, Authorization: token }
  return { url, headers }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** How long to wait before retry `attempt` (1, 2, …): the server's Retry-After, else backing off. */
function waitMs(response, attempt) {
  const seconds = Number(response?.headers.get('retry-after'))
  const backoff = Math.min(10_000, 250 * 2 ** (attempt - 1))
  return Number.isFinite(seconds) && seconds >= 0 ? Math.max(seconds * 1000, backoff / 2) : backoff
}

/**
 * The kind of pipeline `pipelineKey` (of the release of `projectKey`/`flagKey`):
 * `{ kind: 'legacy' | 'new' }`, or `{ kind: 'unknown', why }` when the release names
 * no pipeline or the server refuses the read (403, 404). Any other failure throws an
 * ApiError with the code the library would give it. `retries` overrides --retries.
 */
async function pipelineKind(ctx, projectKey, flagKey, pipelineKey, { retries } = {}) {
  if (typeof pipelineKey !== 'string' || pipelineKey === '') return { kind: 'unknown', why: 'the release names no release pipeline' }
  const { url, headers } = pipelineRequest(ctx, projectKey, flagKey, pipelineKey)
  const target = new URL(url)
  const where = `GET ${target.pathname}`
  const proxy = proxyFor(target, ctx.io.env ?? {})
  if (proxy) {
    throw new ApiError(`cannot read release pipeline ${JSON.stringify(pipelineKey)} to learn its kind: ld-release makes that read itself, not through a proxy, and ${proxy} is set`, 'ERR_LD_NETWORK')
  }
  const timeoutMs = ctx.clientOptions.timeoutMs ?? 30_000
  const maxRetries = retries ?? ctx.clientOptions.maxRetries ?? 3
  for (let attempt = 0; ; attempt++) {
    let response
    let failure
    try {
      response = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) })
    } catch (e) {
      const timedOut = e?.name === 'TimeoutError'
      failure = new ApiError(
        timedOut ? `${where} timed out after ${timeoutMs} ms (${target.host})` : `${where}: connecting to ${target.host} failed: ${e?.cause?.code ?? e?.message ?? e}`,
        timedOut ? 'ERR_LD_TIMEOUT' : 'ERR_LD_NETWORK',
      )
    }
    if (response) {
      const { status } = response
      if (status >= 200 && status < 300) {
        const body = await response.text()
        let legacy
        try {
          legacy = JSON.parse(body)?._isLegacy
        } catch {
          legacy = undefined
        }
        return { kind: legacy === false ? 'new' : 'legacy' }
      }
      await response.body?.cancel()
      if (status === 403 || status === 404) return { kind: 'unknown', why: `reading release pipeline ${JSON.stringify(pipelineKey)} was refused (HTTP ${status})` }
      failure = new ApiError(`LaunchDarkly answered ${status} ${STATUS_CODES[status] ?? ''} to ${where}`.replace('  ', ' '), codeFor(status), status)
      if (!RETRIED.has(status)) throw failure
    }
    const wait = waitMs(response, attempt + 1)
    if (attempt >= maxRetries || wait > MAX_WAIT_MS) throw failure
    await sleep(wait)
  }
}

module.exports = { pipelineKind, proxyFor }
