'use strict'
// The `ld-release` commands. Exit codes: 0 success, 1 an API or network error, 2 a usage
// error, 3 the output could not be written (stdout closed or full) although the command
// succeeded. Only what a script parses (a drawing, --json, a --dry-run request, the
// variables of `fake`) goes to stdout; diagnostics go to stderr.

const { readFileSync } = require('node:fs')
const { ApiError, UsageError, hint, integer, parseCommandLine, suggest, usage } = require('./args.js')
const { completeMany } = require('./many.js')
const { advance, listPipelines, showPipeline } = require('./pipelines.js')
const { isNewPipeline } = require('./pipeline.js')
const { dryRunPhase } = require('./phases.js')
const { isFinished, renderPreview, renderRelease, wantsColor } = require('./render.js')
const { inert, inertJson } = require('./text.js')
const { watchRequests } = require('./verbose.js')
const rollout = require('./rollout.js')

const VERSION = require('../../package.json').version

/** Library errors that mean the command line was wrong rather than the request. */
const USAGE_CODES = new Set(['ERR_LD_INVALID_ARGUMENT', 'ERR_LD_INSECURE_URL', 'ERR_LD_NO_API_KEY'])

/** Exit code when stdout could not be written although the command succeeded. */
const OUTPUT_FAILED = 3

/**
 * The commands, each resolving to an exit code. A command that sends one request
 * describes it to `ctx.request`, which sends it and draws the result, or previews it
 * under --dry-run.
 */
const COMMANDS = {
  status: (ctx, { project, flag }) => ctx.request({ method: 'GET', send: (c) => c.getRelease(project, flag) }),
  complete: (ctx, args) => ctx.request(phaseChange(ctx, args, true)),
  reopen: (ctx, args) => ctx.request(phaseChange(ctx, args, false)),
  start: (ctx, { project, flag, phase }) =>
    ctx.request({
      send: (c) => c.startPhase(project, flag, phase),
      plan: () => dryRunPhase(ctx, ctx.client(), { projectKey: project, flagKey: flag, phase, action: 'startPhase' }),
    }),
  patch: (ctx, { project, flag }) => {
    const patch = ctx.readJson(ctx.values.data, '--data')
    return ctx.request({ method: 'PATCH', patch, send: (c) => c.patchRelease(project, flag, patch) })
  },
  create: (ctx, { project, flag }) => {
    // An option not given is not sent (undefined is no field).
    const input = { releasePipelineKey: ctx.required('pipeline'), releaseVariationId: ctx.values.variation }
    return ctx.request({ operation: 'createRelease', args: [project, flag, input], send: (c) => c.createRelease(project, flag, input) })
  },
  delete: (ctx, { project, flag }) =>
    ctx.request({ operation: 'deleteRelease', args: [project, flag], send: (c) => c.deleteRelease(project, flag), done: `deleted the release of ${ctx.text(project)}/${ctx.text(flag)}` }),
  'phase-status': (ctx, { project, flag, phaseId }) => {
    const input = { status: ctx.required('status') }
    return ctx.request({ operation: 'updatePhaseStatus', args: [project, flag, phaseId, input], send: (c) => c.updatePhaseStatus(project, flag, phaseId, input) })
  },
  'complete-many': completeMany,
  pipelines: listPipelines,
  pipeline: showPipeline,
  advance,
  'rollout start': rollout['rollout start'],
  'rollout status': rollout['rollout status'],
  'rollout watch': rollout['rollout watch'],
  'rollout stop': rollout['rollout stop'],
  'rollout list': rollout['rollout list'],
  policies: rollout.policies,
  demo,
  fake,
}

/**
 * The request of `complete` or `reopen`: the library's completePhase or reopenPhase,
 * which reads the release and its pipeline, then sends the write for that kind of
 * pipeline. --dry-run is the library's own dry run: the same reads, and the write shown.
 */
function phaseChange(ctx, { project, flag, phase }, complete) {
  const action = complete ? 'completePhase' : 'reopenPhase'
  return {
    send: (c) => c[action](project, flag, phase),
    plan: () => dryRunPhase(ctx, ctx.client(), { projectKey: project, flagKey: flag, phase, action }),
  }
}

/**
 * Against a fake LaunchDarkly: `status`, a preview of `complete`, `complete` and `status`
 * again, first for a release of a legacy pipeline, then for one of a new pipeline.
 */
async function demo(ctx) {
  const { startFakeLaunchDarkly } = require('../../testing/index.js')
  const releases = fakeReleases()
  const server = await startFakeLaunchDarkly({ releases: releases.map(({ projectKey, flagKey, release }) => ({ projectKey, flagKey, release })) })
  try {
    const clientOptions = { apiKey: server.apiKey, baseUrl: server.url }
    // The steps' own notes (what a dry run read) are left out: the headings say it.
    const io = { ...ctx.io, err: () => {} }
    const run = (command, args, values = {}) => COMMANDS[command](new Context(ctx.ld, io, { command, values, args, clientOptions }), args)
    const heading = (text) => ctx.io.out(ctx.color ? `\x1b[1m${text}\x1b[22m` : text)
    ctx.io.out(`A fake LaunchDarkly is listening on ${server.url}, holding ${held(releases)}.`)
    for (const { projectKey: project, flagKey: flag, release, legacy } of releases) {
      const first = release.phases[0]._name
      // The new pipeline's phase by name, to show that a phase can be named.
      const phase = legacy ? 0 : first
      const args = { project, flag, phase: legacy ? 0 : { name: first } }
      heading(`\n${legacy ? 'A legacy release pipeline' : 'A new release pipeline: phases only move forward, so completing a phase starts the next'}.`)
      heading(`Before: ld-release status ${project} ${flag}`)
      await run('status', args)
      const sends = legacy ? 'sends' : `starts phase 1 (${release.phases[1]._name}) with`
      heading(`\nCompleting phase 0 (${first}) with ld-release complete ${project} ${flag} ${phase}, which ${sends}:`)
      await run('complete', args, { 'dry-run': true })
      heading('\nAfter:')
      await run('complete', args)
    }
    await rollout.demoGuardedRelease(ctx, heading, (command, args, values, clientOptions) => new Context(ctx.ld, io, { command, values, args, clientOptions }))
    return 0
  } finally {
    await server.close()
  }
}

/**
 * The releases `demo` runs on: one entry per flag, with the kind of its pipeline.
 * `sampleRelease` is a release of a legacy pipeline (phases completed with the PATCH),
 * `sampleNewPipelineRelease` one of a new pipeline (phases started in turn).
 */
function fakeReleases() {
  const { sampleRelease, sampleNewPipelineRelease } = require('../../testing/index.js')
  return [
    { projectKey: 'web', flagKey: 'new-checkout', release: sampleRelease(), legacy: true },
    { projectKey: 'web', flagKey: 'progressive-checkout', release: sampleNewPipelineRelease(), legacy: false },
  ]
}

/** `web/new-checkout (Standard rollout, legacy pipeline, 3 phases) and …` */
function held(releases) {
  const one = (r) => `${r.projectKey}/${r.flagKey} (${r.release.name}, ${r.legacy ? 'legacy' : 'new'} pipeline, ${r.release.phases.length} phases)`
  return releases.map(one).join(' and ')
}

/**
 * The shells `fake --env` prints for: each variable as a line that shell runs
 * (`eval "$(…)"` in sh, `… | source` in fish, `… | Invoke-Expression` in PowerShell), or
 * as a dotenv file (`node --env-file`). The values (a loopback URL, the fake's token, a
 * process id) hold no quote.
 */
const SHELLS = {
  sh: { line: (name, value) => `export ${name}='${value}'`, load: 'eval "$(npx ld-release fake --detach)"', stop: 'kill "$LD_FAKE_PID"' },
  fish: { line: (name, value) => `set -gx ${name} '${value}'`, load: 'npx ld-release fake --env fish --detach | source', stop: 'kill $LD_FAKE_PID' },
  powershell: {
    line: (name, value) => `$env:${name} = '${value}'`,
    load: 'npx ld-release fake --env powershell --detach | Invoke-Expression',
    stop: 'Stop-Process -Id $env:LD_FAKE_PID',
  },
  dotenv: { line: (name, value) => `${name}=${value}`, load: 'npx ld-release fake --env dotenv --detach > fake.env', stop: 'kill <LD_FAKE_PID>' },
}
const SHELL_NAMES = { bash: 'sh', zsh: 'sh', pwsh: 'powershell' }

/** The shell of `--env` (sh by default), or a usage error listing those there are. */
function shellOf(ctx) {
  const name = ctx.values.env ?? 'sh'
  const shell = SHELLS[name] ?? SHELLS[SHELL_NAMES[name]]
  if (shell) return shell
  const near = suggest(name, [...Object.keys(SHELLS), ...Object.keys(SHELL_NAMES)])
  throw ctx.usageError(`--env must be sh, fish, powershell or dotenv, got ${JSON.stringify(name)}${near ? ` (did you mean ${near}?)` : ''}`)
}

/**
 * Serves a fake LaunchDarkly holding `sampleReleases()` until SIGINT or SIGTERM,
 * printing on stdout the variables that point commands at it, as lines `--env`'s shell
 * runs. With --detach, the fake runs in a process of its own, and the command exits
 * once it listens, having printed its variables and LD_FAKE_PID.
 */
async function fake(ctx) {
  const { startFakeLaunchDarkly, sampleReleases } = require('../../testing/index.js')
  const { io, values } = ctx
  const shell = shellOf(ctx)
  const port = values.port === undefined ? 0 : integer('--port', values.port, 0, 65535, ctx.command)
  const speed = values.speed === undefined ? 1 : Number(values.speed)
  if (values.speed !== undefined && !(/^\d+(\.\d+)?$/.test(values.speed) && speed > 0 && speed <= 1e6)) {
    throw ctx.usageError(`--speed must be a number greater than 0, at most 1000000, got ${JSON.stringify(values.speed)}`)
  }
  if (values.detach) return detachFake(ctx, shell, port, speed)
  let server
  try {
    server = await startFakeLaunchDarkly({ port, clock: { speed }, releases: sampleReleases() })
  } catch (e) {
    throw new UsageError(`cannot listen on 127.0.0.1:${port}: ${e.message}`, ctx.command)
  }
  try {
    io.err(`A fake LaunchDarkly is listening on ${server.url}, holding ${heldByFake(sampleReleases())}.`)
    io.err(`Environment releases (flags web/new-checkout, web/checkout-layout; environments test, staging, production) move at ${speed === 1 ? 'real time' : `${speed}× real time`}.`)
    io.err(`In the shell that runs the commands, run these lines (or, instead of this command, ${shell.load}):`)
    io.out(shell.line('LD_BASE_URI', server.url))
    io.out(shell.line('LD_ACCESS_TOKEN', server.apiKey))
    io.err(tryThese())
    io.err('Ctrl-C (SIGINT) or SIGTERM stops it.')
    const signal = await io.untilStopped()
    io.err(`${signal}: stopped after ${server.requests.length} request${server.requests.length === 1 ? '' : 's'}.`)
    return 0
  } finally {
    await server.close()
  }
}

/** `5 releases: web/new-checkout, … (legacy pipeline standard-rollout); …` */
function heldByFake(releases) {
  const { samplePipeline, sampleNewPipeline } = require('../../testing/index.js')
  const kinds = Object.fromEntries([samplePipeline(), sampleNewPipeline()].map((p) => [p.key, p._isLegacy ? 'legacy' : 'new']))
  const byPipeline = new Map()
  for (const { projectKey, flagKey, release } of releases) {
    const key = `${projectKey}\0${release.releasePipelineKey}`
    byPipeline.set(key, [...(byPipeline.get(key) ?? []), flagKey])
  }
  const groups = [...byPipeline].map(([key, flags]) => {
    const [projectKey, pipeline] = key.split('\0')
    return `${flags.map((f) => `${projectKey}/${f}`).join(', ')} (${kinds[pipeline]} pipeline ${pipeline})`
  })
  return `${releases.length} releases: ${groups.join('; ')}`
}

/** What to try against the fake, as the user can run it (in a clone or a project, through npx). */
function tryThese() {
  return [
    'then try: npx ld-release status web new-checkout',
    '      or: npx ld-release complete web progressive-checkout QA --dry-run',
    '      or: npx ld-release rollout start web new-checkout production --to Enabled --steps 1%:10m,10%:30m --metric checkout-errors --watch --interval 1s',
  ].join('\n')
}

/**
 * `fake --detach`: runs `ld-release fake` in a detached process of its own and exits
 * once it listens, printing its variables and LD_FAKE_PID (its process id) as `shell`
 * runs them. The fake goes on until that process is sent SIGTERM (or SIGINT).
 */
async function detachFake(ctx, shell, port, speed) {
  const { spawn } = require('node:child_process')
  const { join } = require('node:path')
  const bin = join(__dirname, '..', '..', 'bin', 'ld-release.js')
  const child = spawn(process.execPath, [bin, 'fake', '--env', 'dotenv', '--port', String(port), '--speed', String(speed)], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Stryker disable next-line BooleanLiteral: no console window opens off Windows
    windowsHide: true,
    env: ctx.io.env,
  })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const vars = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new ApiError('the fake did not start within 30 s', 'ERR_LD_TIMEOUT')), 30_000)
    child.stdout.on('data', (d) => {
      stdout += d
      const found = Object.fromEntries([...stdout.matchAll(/^(LD_BASE_URI|LD_ACCESS_TOKEN)=(\S+)$/gm)].map((m) => [m[1], m[2]]))
      if (found.LD_BASE_URI && found.LD_ACCESS_TOKEN) {
        clearTimeout(timer)
        resolve(found)
      }
    })
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ exited: code ?? 1 })
    })
  }).catch((e) => {
    child.kill()
    throw e
  })
  if (vars.exited !== undefined) {
    // It could not start (a port in use): its own error, and its exit code.
    if (stderr) ctx.io.err(stderr.trimEnd())
    return vars.exited
  }
  child.stdout.destroy()
  child.stderr.destroy()
  child.unref()
  const pid = String(child.pid)
  const { sampleReleases } = require('../../testing/index.js')
  ctx.io.err(`A fake LaunchDarkly is listening on ${vars.LD_BASE_URI} in the background (process ${pid}), holding ${heldByFake(sampleReleases())}.`)
  ctx.io.out(shell.line('LD_BASE_URI', vars.LD_BASE_URI))
  ctx.io.out(shell.line('LD_ACCESS_TOKEN', vars.LD_ACCESS_TOKEN))
  ctx.io.out(shell.line('LD_FAKE_PID', pid))
  ctx.io.err(tryThese())
  ctx.io.err(`${shell.stop.replace('<LD_FAKE_PID>', pid)} stops it.`)
  return 0
}

/** Where the token and the base URL come from, to name them in errors. */
function sources(values, env = {}) {
  const fromEnv = (names) => names.find((n) => typeof env[n] === 'string' && env[n].trim() !== '')
  return {
    token: values['access-token'] !== undefined ? '--access-token' : fromEnv(['LD_ACCESS_TOKEN', 'LAUNCHDARKLY_ACCESS_TOKEN']),
    baseUri: values['base-uri'] !== undefined ? '--base-uri' : fromEnv(['LD_BASE_URI', 'LAUNCHDARKLY_API_HOST']),
  }
}

/** One run of a command: its parsed command line, the addon, and where output goes. */
class Context {
  constructor(ld, io, { command, values = {}, args = {}, clientOptions = {} }) {
    Object.assign(this, { ld, io, command, values, args, clientOptions })
    this.color = wantsColor(io.stdout, io.env)
    this.sources = sources(values, io.env)
    // The token as the library takes it, masked wherever the library masks it.
    // Stryker disable next-line StringLiteral: with no token there is nothing to mask, and any other text is as unlikely in the output
    this.token = clientOptions.apiKey ?? (this.sources.token ? io.env[this.sources.token].trim() : '')
  }

  client() {
    return new this.ld.ReleaseClient(this.clientOptions)
  }

  /** `text` with the token masked as the library masks it: in any encoding, whole or in pieces. */
  redact(text) {
    return this.ld._maskToken(String(text), this.token)
  }

  /**
   * `value` as it may be printed: the token masked and every control character shown
   * escaped (see text.js). Everything a server sent goes through here on its way out.
   */
  text(value) {
    return inert(value, (text) => this.redact(text))
  }

  /**
   * `value` as JSON for stdout (indented by `space`; 0 for one line), token masked and
   * control characters escaped (see text.js). An answer nested too deeply for
   * JSON.stringify is an error that says so (ERR_LD_DECODE), not a RangeError's stack.
   */
  json(value, space = 2) {
    try {
      return inertJson(value, (text) => this.redact(text), space)
    } catch (error) {
      if (!(error instanceof RangeError)) throw error
      throw new ApiError('the answer is nested too deeply to print as JSON; nothing was printed', 'ERR_LD_DECODE')
    }
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
      else if (source !== null) {
        // Stryker disable next-line StringLiteral: JSON.parse reads the bytes as UTF-8 too
        raw = readFileSync(source, 'utf8')
      }
    } catch (e) {
      throw new UsageError(`${what}: cannot read ${source}: ${e.message}`, this.command)
    }
    try {
      return JSON.parse(raw)
    } catch (e) {
      throw new UsageError(`${what} is not valid JSON: ${e.message}`, this.command)
    }
  }

  /**
   * Prints a Release: drawn, or as JSON with --json. A release whose last phase is
   * active is finished if its pipeline is of the new kind, which the release does not
   * say: the pipeline is read to draw it so (once, without retries; when that read
   * fails, the release is drawn as it is).
   */
  async show(release) {
    if (this.values.json) return this.io.out(this.json(release))
    const newPipeline = isFinished(release, true) && (await isNewPipeline(this.client(), this.args.project, release.releasePipelineKey))
    this.io.out(renderRelease(release, { color: this.color, newPipeline, text: (value) => this.text(value) }))
  }

  /** Prints a request preview: as it would go out, or as JSON with --json. */
  print(preview) {
    this.io.out(this.values.json ? this.json(preview) : renderPreview(preview, { text: (value) => this.text(value) }))
  }

  /**
   * The request `req` would send to the release of `project`/`flag`, token masked, as
   * the library's `previewRequest` describes it: an operation with its arguments, or a
   * GET or PATCH of the release.
   */
  preview({ method, patch, operation, args }) {
    if (operation) return this.ld.previewRequest(operation, ...args, this.clientOptions)
    return this.ld.previewRequest(method, this.args.project, this.args.flag, patch ?? null, this.clientOptions)
  }

  /**
   * Sends one request and shows the Release it returns (or says `done` when it returns
   * none); with --dry-run, prints the request instead and sends it not. A request with a
   * `plan` (a phase change) reads what it needs first, and may find that the call will
   * write nothing (then no request is printed, `null` with --json) or will fail.
   */
  async request(req) {
    if (this.values['dry-run']) {
      const { preview, notes = [] } = req.plan ? await req.plan() : { preview: this.preview(req) }
      if (preview) this.print(preview)
      else if (this.values.json) this.io.out('null')
      for (const note of notes) this.io.err(this.text(note))
      return 0
    }
    const release = await req.send(this.client())
    // Only a delete answers nothing, and it says what was done.
    if (release === undefined) this.io.err(req.done)
    else await this.show(release)
    return 0
  }
}

/**
 * A library error in the command line's terms: flags and environment variables rather
 * than option names.
 */
function cliMessage(error, ctx) {
  if (error.code === 'ERR_LD_NO_API_KEY') {
    return 'no LaunchDarkly access token: pass --access-token, or set LD_ACCESS_TOKEN or LAUNCHDARKLY_ACCESS_TOKEN'
  }
  // The flag or the variable each value came from (a token's, since there is one). The
  // numbers (--timeout, --retries) are checked before the library sees them (args.js).
  const names = { apiKey: ctx.sources.token, baseUrl: ctx.sources.baseUri }
  return error.message.replace(/\b(?:options\.)?(apiKey|baseUrl)\b/g, (_, name) => names[name])
}

/** Prints what went wrong and returns the exit code; rethrows what is not ours. */
function report(error, command, io, ctx) {
  const redact = (text) => (ctx ? ctx.text(text) : inert(text))
  const isOurs = ctx?.ld.isLaunchDarklyError(error)
  if (error instanceof UsageError || (isOurs && USAGE_CODES.has(error.code))) {
    const message = error instanceof UsageError ? error.message : cliMessage(error, ctx)
    io.err(`error: ${redact(message)}${error.code ? ` (code ${error.code})` : ''}\n${hint(error.command ?? command)}`)
    return 2
  }
  if (isOurs || error instanceof ApiError) {
    // The library's advice names its own call; the command's is `start`.
    const message = error.message.replace('use startPhase', 'use ld-release start')
    io.err(`error: ${redact(message)} (code ${error.code}${error.status ? `, HTTP ${error.status}` : ''})`)
    return 1
  }
  throw error
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
async function main(argv, io = defaultIo()) {
  let parsed
  let ctx
  let code
  try {
    parsed = parseCommandLine(argv)
    if (parsed.version || parsed.help) {
      io.out(parsed.version ? `ld-release ${VERSION}` : usage(parsed.command))
      code = 0
    } else {
      ctx = new Context(require('../../index.js'), io, parsed)
      const unwatch = watchRequests({ stream: io.stderr, line: io.err, verbose: Boolean(ctx.values.verbose), redact: (text) => ctx.text(text), env: io.env })
      try {
        code = await COMMANDS[parsed.command](ctx, ctx.args)
      } finally {
        unwatch()
      }
    }
  } catch (e) {
    code = report(e, parsed?.command, io, ctx)
  }
  await io.flush?.()
  const failed = io.outputError?.()
  if (failed && code === 0) {
    // A reader that went away (`ld-release status … | head -1`) needs no message.
    if (failed.code !== 'EPIPE') io.err(`error: cannot write the output: ${failed.message}; the command itself succeeded`)
    return OUTPUT_FAILED
  }
  return code
}

/**
 * Output to the process's streams. A failed write to stdout (EPIPE: the reader went
 * away; ENOSPC: the disk is full) is recorded, not thrown; one to stderr is dropped,
 * as there is nowhere left to report it.
 */
function defaultIo() {
  let outputError = null
  // A failed write emits 'error' on its stream.
  process.stdout.on('error', (e) => (outputError ??= e))
  process.stderr.on('error', () => {})
  return {
    out: (text) => process.stdout.write(text + '\n'),
    err: (text) => process.stderr.write(text + '\n'),
    // Stryker disable next-line StringLiteral: JSON.parse reads the bytes as UTF-8 too
    readStdin: () => readFileSync(0, 'utf8'),
    /** Resolves when every write so far has finished or failed. */
    flush: () => new Promise((resolve) => process.stdout.write('', () => resolve())),
    outputError: () => outputError,
    /** Resolves with the name of the first SIGINT or SIGTERM. */
    untilStopped: () =>
      new Promise((resolve) => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      }),
    /** Resolves with the line typed on the terminal after `question` (printed on stderr). */
    ask: async (question) => {
      const readline = require('node:readline/promises')
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr })
      try {
        return await rl.question(question)
      } finally {
        rl.close()
      }
    },
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  }
}

module.exports = { main }
