'use strict'
// The command line of `ld-release`: the options, the commands, their usage, and parsing.
// Pure: reads nothing and sends nothing, so a bad command line fails before any request.
// The flags of the library's options take their names and help from the library's own
// declaration of its options (`_options()`).
//
// A command is one entry of COMMANDS (its positional arguments, the options it takes,
// a one-line summary) and one handler of the same name in main.js.

/**
 * The library's options that have a flag here, as the library declares them (name, set,
 * flag, help): `--access-token` is `apiKey`, `--base-uri` is `baseUrl`, and so on.
 */
// Stryker disable next-line MethodExpression: an option without a flag is never found by a flag, nor set by one
const LIBRARY_OPTIONS = require('../../index.js')._options().filter((o) => o.flag)
const library = (flag) => {
  const option = LIBRARY_OPTIONS.find((o) => o.flag === flag)
  return option.help.replaceAll('`', '').replace(/\.$/, '')
}

/** Every option, once. `value` names the value of an option that takes one. */
const OPTIONS = {
  'access-token': { value: '<token>', help: library('access-token') },
  'base-uri': { value: '<url>', help: library('base-uri') },
  timeout: { value: '<ms>', help: library('timeout') },
  retries: { value: '<n>', help: library('retries') },
  json: { help: 'print the Release as JSON on stdout, nothing else (with --dry-run, the request)' },
  'dry-run': { help: 'print the request (token masked) and send nothing' },
  verbose: { help: 'print each attempt, retry and rate-limit wait on stderr (token masked)' },
  data: { value: '<json>', help: 'the JSON Patch: inline, @file.json, or - for stdin' },
  file: { value: '<items.json>', help: 'a JSON array of { projectKey, flagKey, phase, complete? } (- for stdin)' },
  concurrency: { value: '<n>', help: library('concurrency') },
  query: { value: '<text>', help: library('query') },
  from: { value: '<phase>', help: 'the phase whose flags move on: a 0-based index, a phase name, or id:<phase id> (required)' },
  pipeline: { value: '<key>', help: 'the release pipeline to attach the flag to (required)' },
  variation: { value: '<id>', help: 'the variation to release' },
  status: { value: '<status>', help: 'the status to set, sent as given; new release pipelines accept only active (required)' },
  port: { value: '<port>', help: 'the port to listen on, on 127.0.0.1 (default: any free port)' },
  speed: { value: '<factor>', help: 'how fast the clock of environment releases runs, as a multiple of real time (default 1; 60: a minute each second)' },
  to: { value: '<variation>', help: "the variation to release: its id, name or value (required)" },
  plan: { value: '<key>', help: 'start from this environment release plan instead of --steps and the options after it' },
  steps: { value: '<steps>', help: 'each phase\'s steps as percent:duration, e.g. 1%:10m,10%:30m,50%:1h (required without --plan)' },
  unit: { value: '<kind>', help: 'the context kind the release randomizes on (default user)' },
  metric: { value: '<key>', repeat: true, help: 'a metric to watch, making the release guarded; a regression rolls it back (repeat for more)' },
  'no-auto-rollback': { help: 'on a regression, pause the release for a person instead of rolling it back' },
  phase: { value: '<audience>', repeat: true, help: "a phase's audience, in order: everyone, segment:KEY[,KEY], or clauses such as 'country in NZ,AU and email endsWith @example.com' (repeat for more; default: one phase, everyone)" },
  'rule-id': { value: '<id>', help: 'release on this existing flag rule instead (one phase; the rule must hold the unit\'s kind clause)' },
  advance: { value: '<mode>', help: 'between phases: automatic (default) or manual (the release waits for a person)' },
  cleanup: { help: 'once completed, remove the release rules and serve --to by default' },
  comment: { value: '<text>', help: "a comment for the flag's audit log" },
  'bypass-health-check': { value: '<kind>', repeat: true, help: 'start even though this health check fails (repeat for more)' },
  watch: { help: 'follow the release after starting it, as rollout watch does' },
  interval: { value: '<duration>', help: 'the longest wait between two reads, e.g. 10s (default 30s for guarded releases, 5m for progressive ones)' },
  'roll-back': { help: 'stop by serving the original variation again (pending phases removed)' },
  'roll-forward': { help: 'stop by serving the released variation (every phase)' },
  current: { help: 'with --roll-back or --roll-forward: only the current phase; completed phases keep what they serve, pending phases are removed' },
  yes: { help: 'do not ask for confirmation' },
  kind: { value: '<kind>', help: 'only releases of this kind: guarded or progressive' },
  env: { value: '<shell>', help: 'print the variables for sh (export …; the default, also bash and zsh), fish, powershell, or dotenv (NAME=value)' },
  detach: { help: 'serve in the background: print the variables, LD_FAKE_PID among them, and exit (kill $LD_FAKE_PID stops the fake)' },
  help: { short: 'h', help: 'show help' },
  version: { short: 'V', help: 'show the version' },
}

/** Options every command takes. */
const ALWAYS = ['help', 'version']
/** Options of every command that talks to LaunchDarkly. */
const CONNECTION = ['access-token', 'base-uri', 'timeout', 'retries', 'verbose']
const OUTPUT = ['json', 'dry-run']

const PHASE_HELP = 'phase: a 0-based index, a phase name, or id:<phase id>'

/** The exit codes of a run Ctrl-C stops (`advance`, `complete-many`). */
const INTERRUPTED_RUN =
  '130 interrupted by Ctrl-C (SIGINT), 143 by SIGTERM: the run stops at once and prints\nwhat moved (✓), what failed (✗), the write in flight (?: it may or may not have been\napplied) and what was not sent (-). A second Ctrl-C exits at once.'
const PHASE_DRY_RUN = 'print the write and send nothing (the release and its pipeline are read first, with GETs, to find the write the call makes)'

/**
 * The commands: positional arguments, the options they take (besides ALWAYS), a
 * one-line summary, and option help that differs from OPTIONS.
 */
const COMMANDS = {
  status: { args: ['project', 'flag'], options: [...CONNECTION, ...OUTPUT], summary: 'draw the release pipeline of a flag' },
  complete: {
    args: ['project', 'flag', 'phase'],
    options: [...CONNECTION, ...OUTPUT],
    summary: `mark a phase complete; on a new release pipeline, start the next one (${PHASE_HELP})`,
    help: { 'dry-run': PHASE_DRY_RUN },
  },
  reopen: {
    args: ['project', 'flag', 'phase'],
    options: [...CONNECTION, ...OUTPUT],
    summary: `mark a phase incomplete, on a legacy release pipeline (${PHASE_HELP})`,
    help: { 'dry-run': PHASE_DRY_RUN },
  },
  start: {
    args: ['project', 'flag', 'phase'],
    options: [...CONNECTION, ...OUTPUT],
    summary: `start a phase, completing those before it on a new release pipeline (${PHASE_HELP})`,
    help: { 'dry-run': 'print the PUT and send nothing (a phase by index or name is read first, with a GET)' },
  },
  patch: { args: ['project', 'flag'], options: ['data', ...CONNECTION, ...OUTPUT], summary: 'send a JSON Patch to the release' },
  'complete-many': {
    args: [],
    options: ['file', 'concurrency', ...CONNECTION, ...OUTPUT],
    summary: 'mark many phases complete, within the rate limits',
    exits: INTERRUPTED_RUN,
    help: {
      file: `a JSON array of { projectKey, flagKey, phase, complete? } (- for stdin); ${PHASE_HELP}`,
      json: 'print one result per item as JSON: { ok, projectKey, flagKey, phase, release | error }',
      'dry-run': 'print the PATCH of each item and send none (releases with phases named by name or id are read, with a GET)',
    },
  },
  pipelines: {
    args: ['project'],
    options: ['query', ...CONNECTION, 'json'],
    summary: "list a project's release pipelines: key, name, kind (legacy or new), phases, default",
    help: { json: 'print every release pipeline as a JSON array, as LaunchDarkly sent them' },
  },
  pipeline: {
    args: ['project', 'pipeline'],
    options: [...CONNECTION, 'json'],
    summary: 'draw a release pipeline: its phases in order, how many flags are at each, and how many are finished',
    help: { json: 'print { pipeline, counts } as JSON: the pipeline as sent, and the flags at each phase and finished' },
  },
  advance: {
    args: ['project', 'pipeline'],
    options: ['from', 'concurrency', ...CONNECTION, ...OUTPUT],
    summary: 'move every flag whose active phase is --from to the next phase (one write each; exit 1 if any failed)',
    exits: `Advancing: 0 every listed flag moved, or was skipped (its release is not at --from: printed ↷, nothing written);\n1 a flag failed (the others still move), or the pipeline or its flags could not be read.\n${INTERRUPTED_RUN}`,
    help: {
      json: 'print one result per flag as JSON: { ok, flagKey, release | error }, a skipped flag with skipped: true, reason and activePhaseId too (with --dry-run, { flagKey, request })',
      'dry-run': 'list the flags that would move and print the write of each; write nothing (the pipeline and its flags are read, with GETs)',
    },
  },
  create: { args: ['project', 'flag'], options: ['pipeline', 'variation', ...CONNECTION, ...OUTPUT], summary: 'start a release of a flag in a release pipeline' },
  delete: {
    args: ['project', 'flag'],
    options: [...CONNECTION, ...OUTPUT],
    summary: "delete a flag's release",
    help: { json: 'with --dry-run, print the request as JSON' },
  },
  'phase-status': { args: ['project', 'flag', 'phaseId'], options: ['status', ...CONNECTION, ...OUTPUT], summary: 'set the status of a phase by its id' },
  'rollout start': {
    args: ['project', 'flag', 'environment'],
    options: ['to', 'from', 'plan', 'steps', 'unit', 'metric', 'no-auto-rollback', 'phase', 'rule-id', 'advance', 'cleanup', 'comment', 'bypass-health-check', 'watch', 'interval', ...CONNECTION, ...OUTPUT],
    summary: 'start a guarded or progressive release of a flag in one environment',
    values: { from: '<variation>' },
    help: {
      from: 'the variation to move from: its id, name or value (default: what the flag serves there now, when that is one variation)',
      'dry-run': 'print the start and send nothing (the flag is read first, with a GET, unless --to and --from are variation ids)',
      json: 'print the release as JSON (with --watch, one JSON object per change; with --dry-run, the request)',
    },
    exits: 'Following a release (watch, start --watch): 0 it completed; 4 it was reverted (rolled back); 5 it waits for a person\n(manual advance, or a regression without auto-rollback); 130 interrupted (Ctrl-C): the release keeps running.',
    example: 'ld-release rollout start web new-checkout production --to Enabled --steps 1%:10m,10%:30m,50%:1h --metric checkout-errors --watch',
  },
  'rollout status': {
    args: ['project', 'flag', 'environment'],
    optional: ['release'],
    options: [...CONNECTION, 'json'],
    summary: "draw a release: its phases and audiences, the steps done and to come, its metrics, and its status (without [release], the flag's running release there, or the newest)",
    help: { json: 'print the release as JSON, as LaunchDarkly sent it' },
    example: 'ld-release rollout status web new-checkout production',
  },
  'rollout watch': {
    args: ['project', 'flag', 'environment'],
    optional: ['release'],
    options: ['interval', ...CONNECTION, 'json'],
    summary: 'follow a release until it ends: exit 0 completed, 4 reverted, 5 waiting for a person, 130 on Ctrl-C (the release keeps running)',
    help: { json: 'print one JSON object (the release as sent) per line, at each change' },
    exits: 'Following a release (watch, start --watch): 0 it completed; 4 it was reverted (rolled back); 5 it waits for a person\n(manual advance, or a regression without auto-rollback); 130 interrupted (Ctrl-C): the release keeps running.',
    example: 'ld-release rollout watch web new-checkout production',
  },
  'rollout stop': {
    args: ['project', 'flag', 'environment'],
    optional: ['release'],
    options: ['roll-back', 'roll-forward', 'current', 'comment', 'yes', ...CONNECTION, ...OUTPUT],
    summary: 'stop a running release, rolling it back or forward (asks first on a terminal, unless --yes)',
    example: 'ld-release rollout stop web new-checkout production --roll-back --yes',
  },
  'rollout list': {
    args: ['project', 'flag', 'environment'],
    options: ['kind', ...CONNECTION, 'json'],
    summary: "list a flag's releases in one environment, newest first",
    help: { json: 'print every release as a JSON array, as LaunchDarkly sent them' },
    example: 'ld-release rollout list web new-checkout production --kind guarded',
  },
  policies: {
    args: [],
    optional: ['project'],
    options: [...CONNECTION, 'json'],
    summary: "list a project's release policies: rank, scope, method and stages (project: the argument, else LD_PROJECT)",
    help: { json: 'print the policies as JSON, as LaunchDarkly sent them' },
    example: 'ld-release policies web',
  },
  demo: { args: [], options: ['verbose'], summary: 'complete phases of both kinds of release pipeline against a built-in fake LaunchDarkly (no account, no network)' },
  fake: {
    args: [],
    options: ['port', 'speed', 'env', 'detach'],
    summary: 'serve a fake LaunchDarkly with sample releases until stopped, printing the variables that point commands at it',
  },
  help: { args: [], optional: ['command'], options: [], summary: "show a command's usage (ld-release help complete), or this one" },
}

/**
 * Options people type from other tools (ldcli, curl scripts, other CLIs), with what this
 * command line takes instead: an option, or where the value goes.
 */
const FOREIGN_OPTIONS = {
  token: { option: 'access-token', also: 'or set LD_ACCESS_TOKEN' },
  'api-key': { option: 'access-token', also: 'or set LD_ACCESS_TOKEN' },
  apikey: { option: 'access-token', also: 'or set LD_ACCESS_TOKEN' },
  'api-token': { option: 'access-token', also: 'or set LD_ACCESS_TOKEN' },
  'auth-token': { option: 'access-token', also: 'or set LD_ACCESS_TOKEN' },
  'base-url': { option: 'base-uri', also: 'or set LD_BASE_URI' },
  host: { option: 'base-uri', also: 'or set LD_BASE_URI' },
  'api-host': { option: 'base-uri', also: 'or set LD_BASE_URI' },
  url: { option: 'base-uri', also: 'or set LD_BASE_URI' },
  server: { option: 'base-uri', also: 'or set LD_BASE_URI' },
  project: { argument: 'project' },
  'project-key': { argument: 'project' },
  flag: { argument: 'flag' },
  'flag-key': { argument: 'flag' },
  phase: { argument: 'phase' },
  'phase-id': { argument: 'phaseId' },
  'pipeline-key': { argument: 'pipeline', option: 'pipeline' },
  output: { option: 'json', also: 'for JSON output' },
  format: { option: 'json', also: 'for JSON output' },
  'max-retries': { option: 'retries' },
  'timeout-ms': { option: 'timeout' },
}

const EXIT_CODES = `Exit codes: 0 success; 1 an API or network error; 2 a usage error (a bad argument,
a missing token or an insecure --base-uri); 3 the output could not be written (stdout
closed or full), although the command itself succeeded.`

/** A bad command line: exit 2 with a hint to `command`'s help (the general one when absent). */
class UsageError extends Error {
  constructor(message, command, options) {
    super(message, options)
    this.command = command
  }
}

/**
 * A failure the command finds itself, as the library would report it: exit 1, with a
 * library error code (`ERR_LD_UNSUPPORTED`, …) and the HTTP status when there is one.
 */
class ApiError extends Error {
  constructor(message, code, status) {
    super(message)
    this.code = code
    if (status !== undefined) this.status = status
  }
}

function columns(pairs) {
  const width = Math.max(...pairs.map(([left]) => left.length))
  return pairs.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join('\n')
}

function optionName(name, value = OPTIONS[name].value) {
  const spec = OPTIONS[name]
  return `${spec.short ? `-${spec.short}, ` : ''}--${name}${value ? ` ${value}` : ''}`
}

/** The option list of `names`, with `overrides` for the help of some and `values` for the names of their values. */
function optionList(names, overrides = {}, values = {}) {
  return columns(names.map((name) => [optionName(name, values[name]), overrides[name] ?? OPTIONS[name].help]))
}

/** The subcommands of a command group (`rollout`): the commands named `<group> <word>`. */
function subcommands(group) {
  return Object.keys(COMMANDS)
    .filter((name) => name.startsWith(`${group} `))
    .map((name) => name.slice(group.length + 1))
}

/** The usage of `command`, or of the whole program. */
function usage(command) {
  const spec = COMMANDS[command]
  const subs = command === undefined ? [] : subcommands(command)
  if (!spec && subs.length) {
    const list = columns(subs.map((sub) => [`${command} ${sub}`, COMMANDS[`${command} ${sub}`].summary]))
    return [`Usage: ld-release ${command} <${subs.join('|')}> [arguments] [options]`, `Commands:\n${list}`, EXIT_CODES, `Run 'ld-release ${command} <command> --help' for a command's usage.`].join('\n\n')
  }
  if (!spec) {
    const list = columns(Object.entries(COMMANDS).map(([name, s]) => [name, s.summary]))
    return [
      'Usage: ld-release <command> [options]',
      `Commands:\n${list}`,
      `Options (before or after the command; each command's help lists those it takes):\n${optionList([...CONNECTION, ...OUTPUT, ...ALWAYS])}`,
      EXIT_CODES,
      "Run 'ld-release <command> --help' for a command's usage.",
    ].join('\n\n')
  }
  const args = spec.args.map((a) => ` <${a}>`).join('') + (spec.optional ?? []).map((a) => ` [${a}]`).join('')
  const summary = spec.summary[0].toUpperCase() + spec.summary.slice(1)
  return [
    `Usage: ld-release ${command}${args} [options]`,
    `${summary}.`,
    ...(spec.example ? [`Example:\n  ${spec.example}`] : []),
    `Options:\n${optionList([...spec.options, ...ALWAYS], spec.help, spec.values)}`,
    spec.exits ? `${EXIT_CODES}\n${spec.exits}` : EXIT_CODES,
  ].join('\n\n')
}

/** The one-line pointer to the help printed under a usage error. */
function hint(command) {
  return (COMMANDS[command] && command !== 'help') || (command !== undefined && subcommands(command).length) ? `Run 'ld-release ${command} --help' for usage.` : "Run 'ld-release --help' for usage."
}

/** Optimal string alignment distance: edits, with a swap of neighbours counting as one. */
function distance(a, b) {
  // Stryker disable next-line ArrayDeclaration: every cell is written before it is read
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      // A swap of neighbours. At i = 1 or j = 1, a[i - 2] or b[j - 2] is undefined, which
      // equals no character: no other guard is needed.
      if (a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/** The candidate nearest to `word`, if near enough to be a slip; else undefined. */
function suggest(word, candidates) {
  const limit = word.length <= 3 ? 1 : word.length <= 6 ? 2 : 3
  let best
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) [best, bestDistance] = [candidate, d]
  }
  return bestDistance <= limit ? best : undefined
}

const didYouMean = (word, candidates, prefix = '') => {
  const near = suggest(word, candidates)
  return near === undefined ? '' : ` (did you mean ${prefix}${near}?)`
}

/** `text` as an integer in min..=max, or a UsageError naming `what`. */
function integer(what, text, min, max, command) {
  if (!/^\d+$/.test(String(text)) || Number(text) < min || Number(text) > max) {
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
 * Splits `argv` into options and positionals. Options may come anywhere, before or
 * after the command; `--` ends them. An option that takes a value takes the next
 * argument (or `--name=value`). Unknown names are kept, for the caller to report.
 */
function tokenize(argv) {
  const options = []
  const positionals = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    // A negative number is a value (a phase of -1 is refused as a phase, not as an option).
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg)
      continue
    }
    let name
    let value
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      // Stryker disable next-line EqualityOperator: eq is never 0 (arg starts with --)
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
      // Stryker disable next-line EqualityOperator: eq is never 0 (arg starts with --)
      value = eq < 0 ? undefined : arg.slice(eq + 1)
    } else {
      // An unknown short option is reported by what was typed (`raw`), below.
      name = Object.keys(OPTIONS).find((n) => OPTIONS[n].short === arg.slice(1))
    }
    const spec = OPTIONS[name]
    if (!spec) {
      options.push({ name, raw: arg, unknown: true })
      continue
    }
    if (spec.value && value === undefined) {
      const next = argv[i + 1]
      if (next === undefined || (next.startsWith('--') && next !== '--')) {
        options.push({ name, raw: arg, missing: true })
        continue
      }
      value = next
      i++
    }
    options.push({ name, raw: arg, value })
  }
  return { options, positionals }
}

/**
 * An unknown option: what this command line takes instead when it is an option of other
 * tools (`--token`, `--project`), else the nearest one `allowed` holds (or any command
 * takes). The option's value is never quoted: it may be a token.
 */
function unknownOption(option, allowed, command) {
  // Stryker disable next-line Regex: an option always starts with a dash, so the anchor changes nothing
  const bare = option.raw.replace(/^--?/, '').split('=')[0]
  const flag = option.raw.startsWith('--') ? `--${bare}` : option.raw.slice(0, 2)
  const foreign = option.raw.startsWith('--') ? FOREIGN_OPTIONS[bare.toLowerCase()] : undefined
  if (foreign) return new UsageError(`unknown option ${flag}: ${instead(foreign, command)}`, command)
  const near = suggest(bare, allowed) ?? suggest(bare, Object.keys(OPTIONS))
  return new UsageError(`unknown option ${flag}${near ? ` (did you mean --${near}?)` : ''}`, command)
}

/** What to type instead of an option of another tool, for `command` when there is one. */
function instead({ option, argument, also }, command) {
  const spec = COMMANDS[command]
  if (argument && spec?.args.includes(argument)) {
    const args = spec.args.map((a) => `<${a}>`).join(' ')
    return `the ${argument} is an argument: ld-release ${command} ${args}`
  }
  if (argument && command === 'complete-many') return 'each item of --file names its own: { projectKey, flagKey, phase }'
  if (argument && !option) {
    const taker = Object.keys(COMMANDS).find((c) => COMMANDS[c].args.includes(argument))
    return `the ${argument} is an argument of the commands that take one, e.g. ld-release ${taker} ${COMMANDS[taker].args.map((a) => `<${a}>`).join(' ')}`
  }
  const value = OPTIONS[option].value ? ` ${OPTIONS[option].value}` : ''
  return `use --${option}${value}${also ? ` (${also})` : ''}`
}

/** `ld-release help [command]`: the usage of that command, or of the program. */
function helpCommand(options, given) {
  const unknown = options.find((o) => o.unknown)
  if (unknown) throw unknownOption(unknown, [], 'help')
  if (options.length) throw new UsageError(`help does not take --${options[0].name}`, 'help')
  // A command of a group is two words: `help rollout start`.
  const group = given.length > 0 && subcommands(given[0]).length > 0
  if (given.length > (group ? 2 : 1)) throw new UsageError(`help takes [command], got ${given.length} arguments`, 'help')
  const command = given.length ? given.join(' ') : undefined
  if (command !== undefined && !COMMANDS[command] && !(group && given.length === 1)) {
    throw new UsageError(`unknown command ${JSON.stringify(command)}${didYouMean(command, Object.keys(COMMANDS))}`, 'help')
  }
  return { help: true, command }
}

/**
 * Parses `argv` (without node and the script). Returns `{ version: true }`,
 * `{ help: true, command }`, or `{ command, values, args, clientOptions }` where `args`
 * holds the named positionals (a phase already parsed). Throws a UsageError.
 */
function parseCommandLine(argv) {
  const { options, positionals } = tokenize(argv)
  let command = positionals[0]
  let rest = positionals.slice(1)
  const subs = command === undefined ? [] : subcommands(command)
  if (subs.length) {
    // A command group (`rollout`): its first argument names the command.
    const [sub] = rest
    const helpAsked = options.some((o) => o.name === 'help' && !o.unknown)
    if (sub === undefined) {
      if (helpAsked) return { help: true, command }
      // `rollout --hepl`: the slip, rather than a missing command.
      const unknown = options.find((o) => o.unknown)
      if (unknown) throw unknownOption(unknown, [], command)
      throw new UsageError(`${command} needs a command: ${subs.join(', ')}`, command)
    }
    if (!subs.includes(sub)) throw new UsageError(`unknown command ${JSON.stringify(`${command} ${sub}`)}${didYouMean(sub, subs, `${command} `)}`, command)
    command = `${command} ${sub}`
    rest = rest.slice(1)
  }
  const spec = COMMANDS[command]
  if (command !== undefined && !spec) {
    // An unknown option before the command may have taken the command's place.
    const unknown = options.find((o) => o.unknown)
    // Stryker disable next-line EqualityOperator,ArrayDeclaration: an option and a command are never the same argument; no option is near a made-up name
    if (unknown && argv.indexOf(unknown.raw) < argv.indexOf(command)) throw unknownOption(unknown, [])
    throw new UsageError(`unknown command ${JSON.stringify(command)}${didYouMean(command, Object.keys(COMMANDS))}`)
  }
  const has = (name) => options.some((o) => o.name === name && !o.unknown)
  if (has('version')) return { version: true }
  if (has('help')) return { help: true, command }
  if (!spec) throw new UsageError('missing command')
  if (command === 'help') return helpCommand(options, positionals.slice(1))

  const allowed = [...spec.options, ...ALWAYS]
  const values = {}
  for (const option of options) {
    // Stryker disable next-line StringLiteral: the only short options (-h, -V) are taken everywhere and take no value, so they never reach a message with `flag`
    const flag = option.raw.startsWith('--') ? `--${option.name}` : option.raw
    if (option.unknown) throw unknownOption(option, allowed, command)
    if (!allowed.includes(option.name)) {
      const takers = Object.keys(COMMANDS).filter((c) => COMMANDS[c].options.includes(option.name))
      // Stryker disable next-line StringLiteral: no option a command refuses is near one it takes, in the tables as they are
      const near = didYouMean(option.name, allowed, '--')
      const where = near || (takers.length && takers.length <= 2 ? ` (${takers.join(' and ')} ${takers.length === 1 ? 'takes' : 'take'} it)` : '')
      throw new UsageError(`${command} does not take ${flag}${where}`, command)
    }
    const spec = OPTIONS[option.name]
    if (option.missing) throw new UsageError(`${flag} needs a value: ${flag} ${spec.value} (or ${flag}=${spec.value})`, command)
    if (!spec.value && option.value !== undefined) throw new UsageError(`${flag} takes no value`, command)
    if (spec.repeat) (values[option.name] ??= []).push(option.value)
    else values[option.name] = spec.value ? option.value : true
  }

  const given = rest
  const optional = spec.optional ?? []
  if (given.length < spec.args.length || given.length > spec.args.length + optional.length) {
    const want = [...spec.args.map((a) => `<${a}>`), ...optional.map((a) => `[${a}]`)].join(' ') || 'no arguments'
    const most = spec.args.length + optional.length
    const got = `${given.length} argument${given.length === 1 ? '' : 's'}`
    // Stryker disable next-line EqualityOperator: the counts differ here, so > and >= agree
    throw new UsageError(`${command} takes ${want}, got ${got}${given.length > most ? `: ${JSON.stringify(given.slice(most)[0])} is extra` : ''}`, command)
  }
  const names = [...spec.args, ...optional]
  const args = Object.fromEntries(given.map((value, i) => [names[i], ARGUMENT_PARSERS[names[i]]?.(value, command) ?? value]))
  // Each flag of a client option sets that option; numbers are checked here, so that a
  // bad one is reported by its flag.
  const numbers = { timeout: [1, 3600000], retries: [0, 20] }
  const clientOptions = {}
  for (const { name, set, flag } of LIBRARY_OPTIONS) {
    if (set !== 'ClientOptions' || values[flag] === undefined) continue
    clientOptions[name] = numbers[flag] ? integer(`--${flag}`, values[flag], ...numbers[flag], command) : values[flag]
  }
  return { command, values, args, clientOptions }
}

module.exports = { COMMANDS, OPTIONS, ApiError, UsageError, usage, hint, integer, parsePhase, parseCommandLine, suggest, didYouMean }
