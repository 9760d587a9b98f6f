'use strict'
// The `ld-release` command: argument parsing, the commands, exit codes.
// Exit codes: 0 success, 1 an API or network error, 2 a usage error.

const { parseArgs } = require('node:util')
const { readFileSync } = require('node:fs')
const { renderRelease, wantsColor } = require('./render.js')

const VERSION = require('../../package.json').version

const GLOBAL_OPTIONS = {
  'access-token': { type: 'string' },
  'base-uri': { type: 'string' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  timeout: { type: 'string' },
  retries: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
}

const GLOBAL_HELP = `Options:
  --access-token <token>  LaunchDarkly access token (default: env LD_ACCESS_TOKEN, then LAUNCHDARKLY_ACCESS_TOKEN)
  --base-uri <url>        LaunchDarkly instance (default: env LD_BASE_URI, then LAUNCHDARKLY_API_HOST, then https://app.launchdarkly.com)
  --json                  print the Release as JSON on stdout, nothing else
  --dry-run               print the request (token masked) and send nothing
  --timeout <ms>          timeout of each attempt (default 30000)
  --retries <n>           retries after the first attempt (default 3)
  -h, --help              show help
  -V, --version           show the version`

/** The commands: arguments, extra options, and what they do. */
const COMMANDS = {
  status: {
    args: ['project', 'flag'],
    summary: 'draw the release pipeline of a flag',
    run: (ctx) => ctx.fetchAndShow(),
  },
  complete: {
    args: ['project', 'flag', 'phase'],
    summary: 'mark a phase complete (phase: index, name, or id:<phase id>)',
    run: (ctx) => ctx.changePhase(true),
  },
  reopen: {
    args: ['project', 'flag', 'phase'],
    summary: 'mark a phase incomplete (phase: index, name, or id:<phase id>)',
    run: (ctx) => ctx.changePhase(false),
  },
  patch: {
    args: ['project', 'flag'],
    options: { data: { type: 'string' } },
    optionsHelp: "  --data <json>           the JSON Patch: inline, @file.json, or - for stdin",
    summary: 'send a JSON Patch to the release',
    run: (ctx) => ctx.patch(),
  },
  'complete-many': {
    args: [],
    options: { file: { type: 'string' }, concurrency: { type: 'string' } },
    optionsHelp:
      '  --file <items.json>     a JSON array of { projectKey, flagKey, phase, complete? } (- for stdin)\n  --concurrency <n>       requests in flight (default 8)',
    summary: 'mark many phases complete, within the rate limits',
    run: (ctx) => ctx.completeMany(),
  },
  create: {
    args: ['project', 'flag'],
    options: { pipeline: { type: 'string' }, variation: { type: 'string' } },
    optionsHelp: '  --pipeline <key>        the release pipeline to attach the flag to (required)\n  --variation <id>        the variation to release',
    summary: 'start a release of a flag in a release pipeline',
    run: (ctx) => ctx.create(),
  },
  delete: {
    args: ['project', 'flag'],
    summary: "delete a flag's release",
    run: (ctx) => ctx.remove(),
  },
  'phase-status': {
    args: ['project', 'flag', 'phaseId'],
    options: { status: { type: 'string' } },
    optionsHelp: '  --status <status>       NotStarted, ReadyToStart, Started, Paused or Complete (required)',
    summary: 'set the status of a phase (newer release pipelines)',
    run: (ctx) => ctx.phaseStatus(),
  },
  demo: {
    args: [],
    summary: 'complete a phase against a built-in fake LaunchDarkly (no account, no network)',
    run: (ctx) => ctx.demo(),
  },
}

class UsageError extends Error {}

function usage(name) {
  if (!name) {
    const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length))
    const lines = Object.entries(COMMANDS).map(([c, spec]) => `  ${c.padEnd(width)}  ${spec.summary}`)
    return `Usage: ld-release <command> [options]\n\nCommands:\n${lines.join('\n')}\n\n${GLOBAL_HELP}\n\nRun 'ld-release <command> --help' for a command's usage.`
  }
  const spec = COMMANDS[name]
  const args = spec.args.map((a) => `<${a}>`).join(' ')
  const extra = spec.optionsHelp ? `Command options:\n${spec.optionsHelp}\n\n` : ''
  return `Usage: ld-release ${name}${args ? ` ${args}` : ''} [options]\n\n${spec.summary[0].toUpperCase()}${spec.summary.slice(1)}.\n\n${extra}${GLOBAL_HELP}`
}

function integer(name, text, min, max) {
  if (!/^\d+$/.test(text ?? '') || Number(text) < min || Number(text) > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`)
  }
  return Number(text)
}

/** A phase argument: an index, `id:<phase id>`, or a phase name. */
function parsePhase(text) {
  if (/^-?[\d.]+$/.test(text)) return integer('phase', text, 0, 4294967295)
  if (text.startsWith('id:')) return { id: text.slice(3) }
  if (!text) throw new UsageError('phase must not be empty')
  return { name: text }
}

/**
 * Reads a JSON argument: `-` is stdin, `@path` (or any value when `isPath`) a file,
 * anything else the JSON itself.
 */
function readData(text, io, what, isPath = false) {
  if (text === undefined) throw new UsageError(`${what} is required`)
  const source = text === '-' ? 'stdin' : isPath ? text : text.startsWith('@') ? text.slice(1) : null
  let raw = text
  try {
    if (source === 'stdin') raw = io.readStdin()
    else if (source !== null) raw = readFileSync(source, 'utf8')
  } catch (e) {
    throw new UsageError(`${what}: cannot read ${source}: ${e.message}`, { cause: e })
  }
  try {
    return JSON.parse(raw)
  } catch (e) {
    throw new UsageError(`${what} is not valid JSON: ${e.message}`, { cause: e })
  }
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
async function main(argv, io = defaultIo()) {
  const ld = require('../../index.js')
  const name = argv[0] && !argv[0].startsWith('-') ? argv[0] : undefined
  try {
    if (name && !COMMANDS[name]) throw new UsageError(`unknown command ${JSON.stringify(name)}`)
    const spec = name ? COMMANDS[name] : undefined
    let parsed
    try {
      parsed = parseArgs({
        args: name ? argv.slice(1) : argv,
        options: { ...GLOBAL_OPTIONS, ...(spec?.options ?? {}) },
        allowPositionals: true,
        strict: true,
      })
    } catch (e) {
      throw new UsageError(e.message, { cause: e })
    }
    const { values, positionals } = parsed
    if (values.version) {
      io.out(`ld-release ${VERSION}`)
      return 0
    }
    if (values.help || !name) {
      ;(values.help ? io.out : io.err)(usage(name))
      return values.help ? 0 : 2
    }
    if (positionals.length !== spec.args.length) {
      const want = spec.args.length ? spec.args.map((a) => `<${a}>`).join(' ') : 'no arguments'
      throw new UsageError(`${name} takes ${want}, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`)
    }
    const args = Object.fromEntries(spec.args.map((a, i) => [a, positionals[i]]))
    const clientOptions = {}
    if (values['access-token'] !== undefined) clientOptions.apiKey = values['access-token']
    if (values['base-uri'] !== undefined) clientOptions.baseUrl = values['base-uri']
    if (values.timeout !== undefined) clientOptions.timeoutMs = integer('--timeout', values.timeout, 1, 3600000)
    if (values.retries !== undefined) clientOptions.maxRetries = integer('--retries', values.retries, 0, 20)
    const ctx = new Context(ld, io, values, args, clientOptions)
    return (await spec.run(ctx)) ?? 0
  } catch (e) {
    if (e instanceof UsageError || ['ERR_LD_INVALID_ARGUMENT', 'ERR_LD_INSECURE_URL', 'ERR_LD_NO_API_KEY'].includes(e?.code)) {
      io.err(`error: ${e.message}${e.code ? ` (code ${e.code})` : ''}\n`)
      io.err(usage(name && COMMANDS[name] ? name : undefined))
      return 2
    }
    if (e?.name === 'LaunchDarklyError' || e?.name === 'AbortError') {
      io.err(`error: ${e.message} (code ${e.code}${e.status ? `, HTTP ${e.status}` : ''})`)
      return 1
    }
    throw e
  }
}

class Context {
  constructor(ld, io, values, args, clientOptions) {
    Object.assign(this, { ld, io, values, args, clientOptions })
    this.color = wantsColor(io.stdout, io.env)
  }

  client() {
    return new this.ld.ReleaseClient(this.clientOptions)
  }

  show(release) {
    if (this.values.json) this.io.out(JSON.stringify(release, null, 2))
    else this.io.out(renderRelease(release, { color: this.color }))
  }

  preview(method, patch) {
    const p = this.ld.previewRequest(method, this.args.project, this.args.flag, patch, this.clientOptions)
    this.printPreview(p)
  }

  printPreview(p) {
    const lines = [`${p.method} ${p.url}`, ...Object.entries(p.headers).map(([k, v]) => `${k}: ${v}`)]
    if (p.body !== undefined && p.body !== null) lines.push('', p.body)
    this.io.out(lines.join('\n'))
  }

  async fetchAndShow() {
    if (this.values['dry-run']) return this.preview('GET')
    this.show(await this.client().getRelease(this.args.project, this.args.flag))
  }

  async changePhase(complete) {
    const phase = parsePhase(this.args.phase)
    if (this.values['dry-run']) {
      if (typeof phase === 'number') return this.preview('PATCH', this.ld.phasePatch(phase, complete))
      this.preview('GET')
      this.io.out(`\n(then a PATCH of the phase ${phase.name !== undefined ? `named ${JSON.stringify(phase.name)}` : `with id ${phase.id}`}, found in the release)`)
      return
    }
    const release = await this.client()[complete ? 'completePhase' : 'reopenPhase'](this.args.project, this.args.flag, phase)
    this.show(release)
  }

  async patch() {
    const patch = readData(this.values.data, this.io, '--data')
    if (this.values['dry-run']) return this.preview('PATCH', patch)
    this.show(await this.client().patchRelease(this.args.project, this.args.flag, patch))
  }

  async create() {
    if (!this.values.pipeline) throw new UsageError('--pipeline is required')
    const input = { releasePipelineKey: this.values.pipeline }
    if (this.values.variation !== undefined) input.releaseVariationId = this.values.variation
    if (this.values['dry-run']) return this.io.out(`PUT (create release) ${this.args.project}/${this.args.flag}\n\n${JSON.stringify(input)}`)
    this.show(await this.client().createRelease(this.args.project, this.args.flag, input))
  }

  async remove() {
    if (this.values['dry-run']) return this.io.out(`DELETE (release) ${this.args.project}/${this.args.flag}`)
    await this.client().deleteRelease(this.args.project, this.args.flag)
    if (!this.values.json) this.io.err(`deleted the release of ${this.args.project}/${this.args.flag}`)
  }

  async phaseStatus() {
    if (!this.values.status) throw new UsageError('--status is required')
    const input = { status: this.values.status }
    if (this.values['dry-run']) return this.io.out(`PUT (phase status) ${this.args.project}/${this.args.flag}/${this.args.phaseId}\n\n${JSON.stringify(input)}`)
    this.show(await this.client().updatePhaseStatus(this.args.project, this.args.flag, this.args.phaseId, input))
  }

  async completeMany() {
    const items = readData(this.values.file, this.io, '--file', true)
    if (!Array.isArray(items)) throw new UsageError('--file must hold a JSON array of { projectKey, flagKey, phase, complete? }')
    const options = {}
    if (this.values.concurrency !== undefined) options.concurrency = integer('--concurrency', this.values.concurrency, 1, 256)
    if (this.values['dry-run']) {
      this.io.out(`${items.length} PATCH requests, ${options.concurrency ?? 8} in flight; the first:`)
      const first = items[0]
      if (first) this.printPreview(this.ld.previewRequest('PATCH', first.projectKey, first.flagKey, this.ld.phasePatch(first.phase, first.complete ?? true), this.clientOptions))
      return
    }
    const bar = this.io.stderr?.isTTY ? progressBar(this.io.stderr) : null
    if (bar) options.onProgress = bar.update
    const results = await this.client().completePhases(items, options)
    bar?.done()
    const failed = results.filter((r) => !r.ok)
    if (this.values.json) {
      const plain = results.map((r) => (r.ok ? r : { ok: false, error: { code: r.error.code, status: r.error.status, message: r.error.message } }))
      this.io.out(JSON.stringify(plain, null, 2))
    } else {
      results.forEach((r, i) => {
        const item = items[i] ?? {}
        const label = `${item.projectKey}/${item.flagKey} phase ${item.phase}`
        this.io.out(r.ok ? `✓ ${label}` : `✗ ${label}: ${r.error.message} (code ${r.error.code})`)
      })
      this.io.err(`${results.length - failed.length} done, ${failed.length} failed`)
    }
    return failed.length ? 1 : 0
  }

  async demo() {
    const { startFakeLaunchDarkly, sampleRelease } = require('../../testing/index.js')
    const fake = await startFakeLaunchDarkly({ releases: [{ projectKey: 'web', flagKey: 'new-checkout', release: sampleRelease() }] })
    try {
      const client = new this.ld.ReleaseClient({ apiKey: fake.apiKey, baseUrl: fake.url })
      const say = (text) => this.io.out(this.color ? `\x1b[1m${text}\x1b[22m` : text)
      say(`A fake LaunchDarkly is listening on ${fake.url} with one release: project web, flag new-checkout.\n`)
      say('Before: ld-release status web new-checkout')
      this.io.out(renderRelease(await client.getRelease('web', 'new-checkout'), { color: this.color }))
      say('\nCompleting phase 0 (Testing): ld-release complete web new-checkout 0')
      const after = await client.completePhase('web', 'new-checkout', 0)
      const sent = fake.requests.at(-1)
      this.io.out(`  sent ${sent.method} ${sent.path}\n  LD-API-Version: ${sent.headers['ld-api-version']}\n  ${sent.body}`)
      say('\nAfter:')
      this.io.out(renderRelease(after, { color: this.color }))
    } finally {
      await fake.close()
    }
  }
}

function progressBar(stream) {
  let last = ''
  return {
    update(done, total) {
      const width = 30
      const filled = Math.round((done / Math.max(1, total)) * width)
      const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`
      if (line !== last) stream.write(`\r${line}`)
      last = line
    },
    done() {
      if (last) stream.write('\n')
    },
  }
}

function defaultIo() {
  return {
    out: (text) => process.stdout.write(text + '\n'),
    err: (text) => process.stderr.write(text + '\n'),
    readStdin: () => readFileSync(0, 'utf8'),
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  }
}

module.exports = { main, usage, parsePhase }
