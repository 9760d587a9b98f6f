'use strict'
// The `ld-release` commands. Exit codes: 0 success, 1 an API or network error, 2 a usage
// error. Only what a script parses (a drawing, --json, a --dry-run request) goes to
// stdout; diagnostics go to stderr.

const { readFileSync } = require('node:fs')
const { UsageError, integer, parseCommandLine, usage } = require('./args.js')
const { progressBar, renderPreview, renderRelease, wantsColor } = require('./render.js')

const VERSION = require('../../package.json').version

/** Library errors that mean the command line was wrong rather than the request. */
const USAGE_CODES = new Set(['ERR_LD_INVALID_ARGUMENT', 'ERR_LD_INSECURE_URL', 'ERR_LD_NO_API_KEY'])

/** `PUT` routes of the newer endpoints live under `/projects/{project}/flags/{flag}`. */
const projectsUrl = (url) => url.replace(/\/api\/v2\/flags\/([^/]+)\/([^/]+)\/release$/, '/api/v2/projects/$1/flags/$2/release')

/**
 * The commands, each resolving to an exit code. A command that sends one request
 * describes it to `ctx.request`, which sends it and draws the result, or previews it
 * under --dry-run.
 */
const COMMANDS = {
  status: (ctx, { project, flag }) => ctx.request({ method: 'GET', send: (c) => c.getRelease(project, flag) }),
  complete: (ctx, args) => ctx.request(phaseChange(ctx, args, true)),
  reopen: (ctx, args) => ctx.request(phaseChange(ctx, args, false)),
  patch: (ctx, { project, flag }) => {
    const patch = ctx.readJson(ctx.values.data, '--data')
    return ctx.request({ method: 'PATCH', patch, send: (c) => c.patchRelease(project, flag, patch) })
  },
  create: (ctx, { project, flag }) => {
    const input = { releasePipelineKey: ctx.required('pipeline') }
    if (ctx.values.variation !== undefined) input.releaseVariationId = ctx.values.variation
    return ctx.request({ method: 'PUT', url: projectsUrl, body: input, send: (c) => c.createRelease(project, flag, input) })
  },
  delete: (ctx, { project, flag }) =>
    ctx.request({ method: 'DELETE', send: (c) => c.deleteRelease(project, flag), done: `deleted the release of ${project}/${flag}` }),
  'phase-status': (ctx, { project, flag, phaseId }) => {
    const input = { status: ctx.required('status') }
    const url = (u) => `${projectsUrl(u)}/phases/${encodeURIComponent(phaseId)}`
    return ctx.request({ method: 'PUT', url, body: input, send: (c) => c.updatePhaseStatus(project, flag, phaseId, input) })
  },
  'complete-many': completeMany,
  demo,
}

/** The request of `complete` or `reopen`. A phase given by name or id is looked up first. */
function phaseChange(ctx, { project, flag, phase }, complete) {
  const send = (c) => c[complete ? 'completePhase' : 'reopenPhase'](project, flag, phase)
  if (typeof phase === 'number') return { method: 'PATCH', patch: ctx.ld.phasePatch(phase, complete), send }
  const which = phase.id !== undefined ? `with id ${phase.id}` : `named ${JSON.stringify(phase.name)}`
  return { method: 'GET', note: `(then a PATCH of the phase ${which}, found in that release)`, send }
}

async function completeMany(ctx) {
  const { io, values } = ctx
  const items = ctx.readJson(values.file, '--file', { isPath: true })
  if (!Array.isArray(items)) throw ctx.usageError('--file must hold a JSON array of { projectKey, flagKey, phase, complete? }')
  const options = {}
  if (values.concurrency !== undefined) options.concurrency = integer('--concurrency', values.concurrency, 1, 256, ctx.command)
  if (values['dry-run']) {
    io.err(`${items.length} PATCH requests, ${options.concurrency ?? 8} in flight; the first:`)
    const first = items[0]
    if (first) ctx.print(ctx.ld.previewRequest('PATCH', first.projectKey, first.flagKey, ctx.ld.phasePatch(first.phase, first.complete ?? true), ctx.clientOptions))
    return 0
  }
  const bar = io.stderr?.isTTY ? progressBar(io.stderr) : null
  if (bar) options.onProgress = bar.update
  const results = await ctx.client().completePhases(items, options)
  bar?.done()
  const failed = results.filter((r) => !r.ok).length
  if (values.json) {
    const plain = results.map((r) => (r.ok ? r : { ok: false, error: { code: r.error.code, status: r.error.status, message: r.error.message } }))
    io.out(JSON.stringify(plain, null, 2))
  } else {
    results.forEach((r, i) => {
      const label = `${items[i]?.projectKey}/${items[i]?.flagKey} phase ${items[i]?.phase}`
      io.out(r.ok ? `✓ ${label}` : `✗ ${label}: ${r.error.message} (code ${r.error.code})`)
    })
    io.err(`${results.length - failed} done, ${failed} failed`)
  }
  return failed ? 1 : 0
}

/** Runs `status`, a preview of `complete`, and `complete` against a fake LaunchDarkly. */
async function demo(ctx) {
  const { startFakeLaunchDarkly, sampleRelease } = require('../../testing/index.js')
  const args = { project: 'web', flag: 'new-checkout', phase: 0 }
  const release = sampleRelease()
  const fake = await startFakeLaunchDarkly({ releases: [{ projectKey: args.project, flagKey: args.flag, release }] })
  try {
    const clientOptions = { apiKey: fake.apiKey, baseUrl: fake.url }
    const run = (command, values = {}) => COMMANDS[command](new Context(ctx.ld, ctx.io, { command, values, args, clientOptions }), args)
    const heading = (text) => ctx.io.out(ctx.color ? `\x1b[1m${text}\x1b[22m` : text)
    const { project, flag } = args
    ctx.io.out(`A fake LaunchDarkly is listening on ${fake.url}, holding one release: project ${project}, flag ${flag}.\n`)
    heading(`Before: ld-release status ${project} ${flag}`)
    await run('status')
    heading(`\nCompleting phase 0 (${release.phases[0]._name}) … with ld-release complete ${project} ${flag} 0, which sends:`)
    await run('complete', { 'dry-run': true })
    heading('\nAfter:')
    await run('complete')
    return 0
  } finally {
    await fake.close()
  }
}

/** One run of a command: its parsed command line, the addon, and where output goes. */
class Context {
  constructor(ld, io, { command, values = {}, args = {}, clientOptions = {} }) {
    Object.assign(this, { ld, io, command, values, args, clientOptions })
    this.color = wantsColor(io.stdout, io.env)
  }

  client() {
    return new this.ld.ReleaseClient(this.clientOptions)
  }

  usageError(message) {
    return new UsageError(message, this.command)
  }

  /** The value of a command option that must be given. */
  required(option) {
    if (!this.values[option]) throw this.usageError(`--${option} is required`)
    return this.values[option]
  }

  /** Reads JSON from `text`: `-` is stdin, `@path` (or any value when `isPath`) a file, else the JSON itself. */
  readJson(text, what, { isPath = false } = {}) {
    if (text === undefined) throw this.usageError(`${what} is required`)
    const source = text === '-' ? 'stdin' : isPath ? text : text.startsWith('@') ? text.slice(1) : null
    let raw = text
    try {
      if (source === 'stdin') raw = this.io.readStdin()
      else if (source !== null) raw = readFileSync(source, 'utf8')
    } catch (e) {
      throw new UsageError(`${what}: cannot read ${source}: ${e.message}`, this.command, { cause: e })
    }
    try {
      return JSON.parse(raw)
    } catch (e) {
      throw new UsageError(`${what} is not valid JSON: ${e.message}`, this.command, { cause: e })
    }
  }

  /** Prints a Release: drawn, or as JSON with --json. */
  show(release) {
    this.io.out(this.values.json ? JSON.stringify(release, null, 2) : renderRelease(release, { color: this.color }))
  }

  /** Prints a request preview: as it would go out, or as JSON with --json. */
  print(preview) {
    this.io.out(this.values.json ? JSON.stringify(preview, null, 2) : renderPreview(preview))
  }

  /** The request `req` would send, token masked. */
  preview({ method, patch, url, body }) {
    const { project, flag } = this.args
    if (method === 'GET' || method === 'PATCH') return this.ld.previewRequest(method, project, flag, patch ?? null, this.clientOptions)
    // The addon previews GET and PATCH; the other requests carry the same headers.
    const get = this.ld.previewRequest('GET', project, flag, null, this.clientOptions)
    const headers = { ...get.headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) }
    const sorted = Object.fromEntries(Object.entries(headers).sort(([a], [b]) => (a < b ? -1 : 1)))
    return { method, url: url ? url(get.url) : get.url, headers: sorted, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }
  }

  /**
   * Sends one request and shows the Release it returns (or says `done` when it returns
   * none); with --dry-run, prints the request instead and sends nothing.
   */
  async request(req) {
    if (this.values['dry-run']) {
      this.print(this.preview(req))
      if (req.note) this.io.err(req.note)
      return 0
    }
    const release = await req.send(this.client())
    if (release !== undefined && release !== null) this.show(release)
    else if (req.done) this.io.err(req.done)
    return 0
  }
}

/** Prints what went wrong and returns the exit code; rethrows what is not ours. */
function report(error, command, io) {
  if (error instanceof UsageError || USAGE_CODES.has(error?.code)) {
    io.err(`error: ${error.message}${error.code ? ` (code ${error.code})` : ''}\n\n${usage(error.command ?? command)}`)
    return 2
  }
  if (error?.name === 'LaunchDarklyError' || error?.name === 'AbortError') {
    io.err(`error: ${error.message} (code ${error.code}${error.status ? `, HTTP ${error.status}` : ''})`)
    return 1
  }
  throw error
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
async function main(argv, io = defaultIo()) {
  let parsed
  try {
    parsed = parseCommandLine(argv)
    if (parsed.version || parsed.help) {
      io.out(parsed.version ? `ld-release ${VERSION}` : usage(parsed.command))
      return 0
    }
    const ctx = new Context(require('../../index.js'), io, parsed)
    return await COMMANDS[parsed.command](ctx, ctx.args)
  } catch (e) {
    return report(e, parsed?.command, io)
  }
}

function defaultIo() {
  return {
    out: (text) => void process.stdout.write(text + '\n'),
    err: (text) => void process.stderr.write(text + '\n'),
    readStdin: () => readFileSync(0, 'utf8'),
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  }
}

module.exports = { main }
