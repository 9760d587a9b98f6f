'use strict'
// The command line of `ld-release`: the commands, their usage, and parsing. Pure: reads
// nothing and sends nothing, so a bad command line fails before any request.

const { parseArgs } = require('node:util')

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
  --json                  print the Release as JSON on stdout, nothing else (with --dry-run, the request)
  --dry-run               print the request (token masked) and send nothing
  --timeout <ms>          timeout of each attempt (default 30000)
  --retries <n>           retries after the first attempt (default 3)
  -h, --help              show help
  -V, --version           show the version

Exit codes: 0 success, 1 an API or network error, 2 a usage error (a bad argument,
a missing token or an insecure --base-uri).`

const PHASE_HELP = 'phase: a 0-based index, a phase name, or id:<phase id>'

/** The commands: positional arguments, extra options, and a one-line summary. */
const COMMANDS = {
  status: { args: ['project', 'flag'], summary: 'draw the release pipeline of a flag' },
  complete: { args: ['project', 'flag', 'phase'], summary: `mark a phase complete (${PHASE_HELP})` },
  reopen: { args: ['project', 'flag', 'phase'], summary: `mark a phase incomplete (${PHASE_HELP})` },
  patch: {
    args: ['project', 'flag'],
    options: { data: { type: 'string' } },
    optionsHelp: ['--data <json>', 'the JSON Patch: inline, @file.json, or - for stdin'],
    summary: 'send a JSON Patch to the release',
  },
  'complete-many': {
    args: [],
    options: { file: { type: 'string' }, concurrency: { type: 'string' } },
    optionsHelp: [
      '--file <items.json>',
      'a JSON array of { projectKey, flagKey, phase, complete? } (- for stdin)',
      '--concurrency <n>',
      'requests in flight (default 8)',
    ],
    summary: 'mark many phases complete, within the rate limits',
  },
  create: {
    args: ['project', 'flag'],
    options: { pipeline: { type: 'string' }, variation: { type: 'string' } },
    optionsHelp: ['--pipeline <key>', 'the release pipeline to attach the flag to (required)', '--variation <id>', 'the variation to release'],
    summary: 'start a release of a flag in a release pipeline',
  },
  delete: { args: ['project', 'flag'], summary: "delete a flag's release" },
  'phase-status': {
    args: ['project', 'flag', 'phaseId'],
    options: { status: { type: 'string' } },
    optionsHelp: ['--status <status>', 'NotStarted, ReadyToStart, Started, Paused or Complete (required)'],
    summary: 'set the status of a phase (newer release pipelines)',
  },
  demo: { args: [], summary: 'complete a phase against a built-in fake LaunchDarkly (no account, no network)' },
}

/** A bad command line: exit 2 with `command`'s usage (the general one when absent). */
class UsageError extends Error {
  constructor(message, command, options) {
    super(message, options)
    this.command = command
  }
}

function columns(pairs) {
  const width = Math.max(...pairs.map(([left]) => left.length))
  return pairs.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join('\n')
}

/** The usage of `command`, or of the whole program. */
function usage(command) {
  const spec = COMMANDS[command]
  if (!spec) {
    const list = columns(Object.entries(COMMANDS).map(([name, s]) => [name, s.summary]))
    return `Usage: ld-release <command> [options]\n\nCommands:\n${list}\n\n${GLOBAL_HELP}\n\nRun 'ld-release <command> --help' for a command's usage.`
  }
  const args = spec.args.map((a) => ` <${a}>`).join('')
  const pairs = []
  for (let i = 0; i < (spec.optionsHelp ?? []).length; i += 2) pairs.push(spec.optionsHelp.slice(i, i + 2))
  const extra = pairs.length ? `Command options:\n${columns(pairs)}\n\n` : ''
  const summary = spec.summary[0].toUpperCase() + spec.summary.slice(1)
  return `Usage: ld-release ${command}${args} [options]\n\n${summary}.\n\n${extra}${GLOBAL_HELP}`
}

/** `text` as an integer in min..=max, or a UsageError naming `what`. */
function integer(what, text, min, max, command) {
  if (!/^\d+$/.test(text ?? '') || Number(text) < min || Number(text) > max) {
    throw new UsageError(`${what} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`, command)
  }
  return Number(text)
}

/** A phase argument as the library takes it: an index, `{ id }` for `id:<id>`, else `{ name }`. */
function parsePhase(text, command) {
  if (!text.trim()) throw new UsageError('phase must not be empty', command)
  // Anything that reads as a number must be a valid index: -1 and 1.5 never become names.
  if (!Number.isNaN(Number(text))) return integer('phase', text, 0, 4294967295, command)
  if (text.startsWith('id:')) {
    if (!text.slice(3).trim()) throw new UsageError('phase id must not be empty', command)
    return { id: text.slice(3) }
  }
  return { name: text }
}

const ARGUMENT_PARSERS = { phase: parsePhase }

/**
 * Parses `argv` (without node and the script). Returns `{ version: true }`,
 * `{ help: true, command }`, or `{ command, values, args, clientOptions }` where `args`
 * holds the named positionals (a phase already parsed). Throws a UsageError.
 */
function parseCommandLine(argv) {
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : undefined
  if (command !== undefined && !COMMANDS[command]) throw new UsageError(`unknown command ${JSON.stringify(command)}`)
  const spec = COMMANDS[command]
  let parsed
  try {
    parsed = parseArgs({
      args: command ? argv.slice(1) : argv,
      options: { ...GLOBAL_OPTIONS, ...spec?.options },
      allowPositionals: true,
      strict: true,
    })
  } catch (e) {
    throw new UsageError(e.message, command, { cause: e })
  }
  const { values, positionals } = parsed
  if (values.version) return { version: true }
  if (values.help) return { help: true, command }
  if (!command) throw new UsageError('missing command')
  if (positionals.length !== spec.args.length) {
    const want = spec.args.length ? spec.args.map((a) => `<${a}>`).join(' ') : 'no arguments'
    const got = `${positionals.length} argument${positionals.length === 1 ? '' : 's'}`
    throw new UsageError(`${command} takes ${want}, got ${got}`, command)
  }
  const args = Object.fromEntries(spec.args.map((name, i) => [name, ARGUMENT_PARSERS[name]?.(positionals[i], command) ?? positionals[i]]))
  const clientOptions = {}
  if (values['access-token'] !== undefined) clientOptions.apiKey = values['access-token']
  if (values['base-uri'] !== undefined) clientOptions.baseUrl = values['base-uri']
  if (values.timeout !== undefined) clientOptions.timeoutMs = integer('--timeout', values.timeout, 1, 3600000, command)
  if (values.retries !== undefined) clientOptions.maxRetries = integer('--retries', values.retries, 0, 20, command)
  return { command, values, args, clientOptions }
}

module.exports = { COMMANDS, UsageError, usage, integer, parsePhase, parseCommandLine }
