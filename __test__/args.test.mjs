// The command line of `ld-release` parsed in this process (lib/cli/args.js): what each
// command line becomes, and the usage error of each bad one. cli.test.mjs runs the same
// through the binary; these are the fast checks of the parser itself.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { COMMANDS, OPTIONS, ApiError, UsageError, usage, hint, integer, parsePhase, parseCommandLine, suggest } = require('../lib/cli/args.js')

/** The UsageError `argv` throws: its message and the command its hint names. */
function refused(argv) {
  try {
    parseCommandLine(argv)
  } catch (error) {
    assert.ok(error instanceof UsageError, `${JSON.stringify(argv)}: ${error}`)
    return { message: error.message, command: error.command }
  }
  assert.fail(`${JSON.stringify(argv)} was accepted`)
}

test('a command line becomes the command, its named arguments, the option values and the client options', () => {
  assert.deepEqual(parseCommandLine(['status', 'web', 'checkout']), {
    command: 'status',
    values: {},
    args: { project: 'web', flag: 'checkout' },
    clientOptions: {},
  })
  assert.deepEqual(
    parseCommandLine(['--access-token', 'tok', 'complete', 'web', 'checkout', 'QA', '--base-uri=http://127.0.0.1:1', '--timeout', '1500', '--retries=0', '--json', '--dry-run', '--verbose']),
    {
      command: 'complete',
      values: { 'access-token': 'tok', 'base-uri': 'http://127.0.0.1:1', timeout: '1500', retries: '0', json: true, 'dry-run': true, verbose: true },
      args: { project: 'web', flag: 'checkout', phase: { name: 'QA' } },
      clientOptions: { apiKey: 'tok', baseUrl: 'http://127.0.0.1:1', timeoutMs: 1500, maxRetries: 0 },
    },
  )
  assert.deepEqual(parseCommandLine(['reopen', 'web', 'checkout', '2']).args.phase, 2)
  assert.deepEqual(parseCommandLine(['start', 'web', 'checkout', 'id:abc']).args.phase, { id: 'abc' })
  // `--` ends the options: what follows is positional, even if it looks like an option.
  assert.deepEqual(parseCommandLine(['complete', 'web', '--', '--json', '0']).args, { project: 'web', flag: '--json', phase: 0 })
  assert.deepEqual(parseCommandLine(['complete', 'web', 'checkout', '-']).args.phase, { name: '-' })
  // The phase status is sent as given; a value may start with one dash.
  assert.deepEqual(parseCommandLine(['phase-status', 'web', 'f', 'id1', '--status', '-x']).values, { status: '-x' })
  // --concurrency is an option of the call, not of the client.
  // A value may be `--` itself; an option after a value-taking one is not its value.
  assert.deepEqual(parseCommandLine(['phase-status', 'web', 'f', 'id1', '--status', '--']).values, { status: '--' })
  assert.deepEqual(parseCommandLine(['phase-status', 'web', 'f', 'id1', '--status', '-']).values, { status: '-' })
  assert.deepEqual(parseCommandLine(['phase-status', 'web', 'f', 'id1', '--status=', '--json']).values, { status: '', json: true })
  assert.deepEqual(parseCommandLine(['advance', 'web', 'p', '--from', '1', '--concurrency', '4']), {
    command: 'advance',
    values: { from: '1', concurrency: '4' },
    args: { project: 'web', pipeline: 'p' },
    clientOptions: {},
  })
  assert.deepEqual(parseCommandLine(['complete-many', '--file', '-']), { command: 'complete-many', values: { file: '-' }, args: {}, clientOptions: {} })
  assert.deepEqual(parseCommandLine(['fake', '--port', '0']).values, { port: '0' })
})

test('--help and --version win over everything else but an unknown command', () => {
  assert.deepEqual(parseCommandLine(['--version']), { version: true })
  assert.deepEqual(parseCommandLine(['status', '-V', '--bogus']), { version: true })
  assert.deepEqual(parseCommandLine(['-h']), { help: true, command: undefined })
  assert.deepEqual(parseCommandLine(['status', '--help']), { help: true, command: 'status' })
  assert.deepEqual(parseCommandLine(['complete', 'x', '-h', '--timeout']), { help: true, command: 'complete' })
  assert.deepEqual(refused(['statsu', '--help']), { message: 'unknown command "statsu" (did you mean status?)', command: undefined })
})

test('each bad command line is refused with its message and the command whose help to read', () => {
  const cases = [
    [[], 'missing command', undefined],
    [['--json'], 'missing command', undefined],
    [['frobnicate'], 'unknown command "frobnicate"', undefined],
    [['--bogus', 'status', 'web', 'f'], 'unknown option --bogus', 'status'],
    [['--jsno', 'stats'], 'unknown option --jsno (did you mean --json?)', undefined],
    [['stats', '--jsno'], 'unknown command "stats" (did you mean status?)', undefined],
    [['status', 'web', 'f', '--jsno'], 'unknown option --jsno (did you mean --json?)', 'status'],
    [['status', 'web', 'f', '-x'], 'unknown option -x', 'status'],
    // A short option is quoted by its first two characters: the rest may be a value (a token).
    [['status', 'web', 'f', '-jsn'], 'unknown option -j (did you mean --json?)', 'status'],
    [['status', 'web', 'f', '-vxrbxsx'], 'unknown option -v (did you mean --verbose?)', 'status'],
    [['status', 'web', 'f', '--vxrbxsx'], 'unknown option --vxrbxsx (did you mean --verbose?)', 'status'],
    [['status', 'web', 'f', '--vxrxxsx'], 'unknown option --vxrxxsx', 'status'],
    [['status', 'web', 'f', '--dryrun=1'], 'unknown option --dryrun (did you mean --dry-run?)', 'status'],
    [['pipelines', 'web', '--dry-run'], 'pipelines does not take --dry-run', 'pipelines'],
    [['status', 'web', 'f', '--data', '[]'], 'status does not take --data (patch takes it)', 'status'],
    [['status', 'web', 'f', '--concurrency', '2'], 'status does not take --concurrency (complete-many and advance take it)', 'status'],
    [['status', 'web', 'f', '--port', '1'], 'status does not take --port (fake takes it)', 'status'],
    [['demo', '--json'], 'demo does not take --json', 'demo'],
    [['pipelines', 'web', '--verbos'], 'unknown option --verbos (did you mean --verbose?)', 'pipelines'],
    [['fake', '--prot', '1'], 'unknown option --prot (did you mean --port?)', 'fake'],
    [['fake', '--verbose'], 'fake does not take --verbose', 'fake'],
    [['demo', '--pot', '1'], 'unknown option --pot (did you mean --port?)', 'demo'],
    [['status', 'web', 'f', '--access-token'], '--access-token needs a value: --access-token <token> (or --access-token=<token>)', 'status'],
    [['status', 'web', 'f', '--base-uri', '--json'], '--base-uri needs a value: --base-uri <url> (or --base-uri=<url>)', 'status'],
    [['status', 'web', 'f', '--json=yes'], '--json takes no value', 'status'],
    // What follows '=' is a value, and a value may be a token: it is never echoed.
    [['status', 'web', 'f', '-h=1'], 'unknown option -h', 'status'],
    [['status', 'web'], 'status takes <project> <flag>, got 1 argument', 'status'],
    [['status'], 'status takes <project> <flag>, got 0 arguments', 'status'],
    [['status', 'web', 'f', 'extra', 'more'], 'status takes <project> <flag>, got 4 arguments: "extra" is extra', 'status'],
    [['demo', 'now'], 'demo takes no arguments, got 1 argument: "now" is extra', 'demo'],
    [['complete', 'web', 'f', ' '], 'phase must not be empty', 'complete'],
    // A negative number is a value, refused as a phase rather than as an option.
    [['complete', 'web', 'f', '-1'], 'phase must be an integer from 0 to 4294967295, got "-1"', 'complete'],
    [['complete', 'web', 'f', '--', '-1'], 'phase must be an integer from 0 to 4294967295, got "-1"', 'complete'],
    [['complete', 'web', 'f', '1.5'], 'phase must be an integer from 0 to 4294967295, got "1.5"', 'complete'],
    [['complete', 'web', 'f', '4294967296'], 'phase must be an integer from 0 to 4294967295, got "4294967296"', 'complete'],
    [['start', 'web', 'f', 'id: '], 'phase id must not be empty', 'start'],
    [['status', 'web', 'f', '--timeout', '0'], '--timeout must be an integer from 1 to 3600000, got "0"', 'status'],
    [['status', 'web', 'f', '--timeout', '3600001'], '--timeout must be an integer from 1 to 3600000, got "3600001"', 'status'],
    [['status', 'web', 'f', '--retries', '21'], '--retries must be an integer from 0 to 20, got "21"', 'status'],
    [['status', 'web', 'f', '--retries', 'x'], '--retries must be an integer from 0 to 20, got "x"', 'status'],
  ]
  for (const [argv, message, command] of cases) {
    assert.deepEqual(refused(argv), { message, command }, JSON.stringify(argv))
  }
  // The edges of the numbers are accepted.
  assert.deepEqual(parseCommandLine(['status', 'web', 'f', '--timeout', '1', '--retries', '20']).clientOptions, { timeoutMs: 1, maxRetries: 20 })
  assert.deepEqual(parseCommandLine(['status', 'web', 'f', '--timeout', '3600000', '--retries', '0']).clientOptions, { timeoutMs: 3600000, maxRetries: 0 })
  assert.equal(parseCommandLine(['complete', 'web', 'f', '4294967295']).args.phase, 4294967295)
  assert.equal(parseCommandLine(['complete', 'web', 'f', '0']).args.phase, 0)
})

test('integer and parsePhase name what they refuse', () => {
  assert.equal(integer('--n', '7', 1, 9), 7)
  assert.equal(integer('--n', '1', 1, 9), 1)
  assert.equal(integer('--n', '9', 1, 9), 9)
  for (const text of ['0', '10', '', ' 7', '7 ', '+7', '0x7', '7e0', undefined]) {
    assert.throws(() => integer('--n', text, 1, 9, 'advance'), (error) => {
      assert.ok(error instanceof UsageError)
      assert.equal(error.message, `--n must be an integer from 1 to 9, got ${JSON.stringify(text)}`)
      assert.equal(error.command, 'advance')
      return true
    })
  }
  assert.deepEqual(parsePhase('QA'), { name: 'QA' })
  assert.deepEqual(parsePhase(' QA '), { name: ' QA ' })
  assert.deepEqual(parsePhase('id:x y'), { id: 'x y' })
  assert.deepEqual(parsePhase('ID:x'), { name: 'ID:x' })
  assert.equal(parsePhase('12'), 12)
  assert.throws(() => parsePhase('', 'start'), { message: 'phase must not be empty', command: 'start' })
  assert.throws(() => parsePhase('id:', 'start'), { message: 'phase id must not be empty', command: 'start' })
})

test('suggest: the nearest candidate within the limit for the length of the word, ignoring case', () => {
  const words = ['status', 'complete', 'reopen', 'pipelines', 'pipeline', 'fake', 'json']
  assert.equal(suggest('STATUS', words), 'status')
  assert.equal(suggest('pipelins', words), 'pipelines', 'the nearest of two near ones')
  assert.equal(suggest('pipelin', words), 'pipeline')
  assert.equal(suggest('sjon', words), 'json', 'a swap of neighbours is one edit')
  assert.equal(suggest('osjn', words), 'json', 'two edits: as many as a 4-letter word allows')
  assert.equal(suggest('sjn', words), undefined, 'two edits: more than a 3-letter word allows')
  assert.equal(suggest('fak', words), 'fake')
  assert.equal(suggest('fxk', words), undefined)
  assert.equal(suggest('rxopxn', words), 'reopen')
  assert.equal(suggest('rxxpxn', words), undefined)
  assert.equal(suggest('pxpxlxnes', words), 'pipelines')
  assert.equal(suggest('pxpxlxnxs', words), undefined)
  assert.equal(suggest('', words), undefined)
  assert.equal(suggest('x', ['y']), 'y', 'one edit for a one-letter word')
  assert.equal(suggest('xy', ['yz']), undefined)
  assert.equal(suggest('status', []), undefined)
  // A swap of neighbours, at the start, in the middle or at the end, is one edit.
  assert.equal(suggest('bac', ['abc']), 'abc')
  assert.equal(suggest('acb', ['abc']), 'abc')
  assert.equal(suggest('bca', ['abc']), undefined, 'a rotation is two edits')
  assert.equal(suggest('xacb', ['abc']), 'abc')
  assert.equal(suggest('abdc', ['abcd', 'abdcxy']), 'abcd')
})

test('usage: the whole program, and each command with its arguments and options', () => {
  const all = usage()
  assert.match(all, /^Usage: ld-release <command> \[options\]\n\nCommands:\n/)
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length))
  for (const [name, spec] of Object.entries(COMMANDS)) assert.ok(all.includes(`  ${name.padEnd(width)}  ${spec.summary}\n`) || all.includes(`  ${name.padEnd(width)}  ${spec.summary}`), name)
  assert.match(all, /\n {2}-h, --help {14}show help\n/)
  assert.match(all, /\n {2}-V, --version {11}show the version\n/)
  assert.match(all, /\n {2}--access-token <token> {2}The access token/)
  assert.ok(all.endsWith("Run 'ld-release <command> --help' for a command's usage."))
  assert.match(all, /Exit codes: 0 success; 1 an API or network error; 2 a usage error/)

  const status = usage('status')
  assert.equal(status.split('\n\n')[0], 'Usage: ld-release status <project> <flag> [options]')
  assert.equal(status.split('\n\n')[1], 'Draw the release pipeline of a flag.')
  const options = status.split('\n\n')[2].split('\n')
  assert.equal(options[0], 'Options:')
  assert.deepEqual(options.slice(1).map((line) => line.trim().split(/ {2,}/)[0]), [
    '--access-token <token>', '--base-uri <url>', '--timeout <ms>', '--retries <n>', '--verbose', '--json', '--dry-run', '-h, --help', '-V, --version',
  ])
  // Every line of the list is aligned on the widest option.
  const starts = options.slice(1).map((line) => line.search(/ {2}\S/g) >= 0 && line.indexOf(line.trim().split(/ {2,}/)[1]))
  assert.equal(new Set(starts).size, 1, options.join('\n'))
  assert.ok(status.includes(OPTIONS['dry-run'].help))
  // A command's own help for an option replaces the general one.
  assert.ok(usage('complete').includes(COMMANDS.complete.help['dry-run']))
  assert.ok(!usage('complete').includes(OPTIONS['dry-run'].help))
  assert.ok(usage('demo').startsWith('Usage: ld-release demo [options]\n\nComplete phases of both kinds'))
  assert.ok(usage('phase-status').startsWith('Usage: ld-release phase-status <project> <flag> <phaseId> [options]'))
  // The runs Ctrl-C stops give its exit codes after the general ones; the others do not.
  const interrupted =
    '\n130 interrupted by Ctrl-C (SIGINT), 143 by SIGTERM: the run stops at once and prints\nwhat moved (✓), what failed (✗), the write in flight (?: it may or may not have been\napplied) and what was not sent (-). A second Ctrl-C exits at once.'
  for (const command of ['advance', 'complete-many']) assert.ok(usage(command).endsWith(interrupted), usage(command))
  assert.ok(!usage('complete').includes('SIGTERM'))
})

test('hint points to the command’s help, or the program’s', () => {
  assert.equal(hint('status'), "Run 'ld-release status --help' for usage.")
  assert.equal(hint(undefined), "Run 'ld-release --help' for usage.")
  assert.equal(hint('nope'), "Run 'ld-release --help' for usage.")
})

test('ApiError carries the code and the status when there is one', () => {
  const withStatus = new ApiError('m', 'ERR_LD_UNSUPPORTED', 400)
  assert.deepEqual({ message: withStatus.message, code: withStatus.code, status: withStatus.status }, { message: 'm', code: 'ERR_LD_UNSUPPORTED', status: 400 })
  assert.ok(!('status' in new ApiError('m', 'ERR_LD_UNSUPPORTED')))
  assert.equal(new UsageError('u', 'status', { cause: 1 }).cause, 1)
})

/** Each command: its usage line and the options it takes (besides --help and --version). */
const SYNOPSES = [
  ['status', 'status <project> <flag> [options]', '--access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['complete', 'complete <project> <flag> <phase> [options]', '--access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['reopen', 'reopen <project> <flag> <phase> [options]', '--access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['start', 'start <project> <flag> <phase> [options]', '--access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['patch', 'patch <project> <flag> [options]', '--data <json> --access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['complete-many', 'complete-many [options]', '--file <items.json> --concurrency <n> --access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['pipelines', 'pipelines <project> [options]', '--query <text> --access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json'],
  ['pipeline', 'pipeline <project> <pipeline> [options]', '--access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json'],
  ['advance', 'advance <project> <pipeline> [options]', '--from <phase> --concurrency <n> --access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['create', 'create <project> <flag> [options]', '--pipeline <key> --variation <id> --access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['delete', 'delete <project> <flag> [options]', '--access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['phase-status', 'phase-status <project> <flag> <phaseId> [options]', '--status <status> --access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['rollout start', 'rollout start <project> <flag> <environment> [options]', '--to <variation> --from <variation> --plan <key> --steps <steps> --unit <kind> --metric <key> --no-auto-rollback --phase <audience> --rule-id <id> --advance <mode> --cleanup --comment <text> --bypass-health-check <kind> --watch --interval <duration> --access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['rollout status', 'rollout status <project> <flag> <environment> [release] [options]', '--access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json'],
  ['rollout watch', 'rollout watch <project> <flag> <environment> [release] [options]', '--interval <duration> --access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json'],
  ['rollout stop', 'rollout stop <project> <flag> <environment> [release] [options]', '--roll-back --roll-forward --current --comment <text> --yes --access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json --dry-run'],
  ['rollout list', 'rollout list <project> <flag> <environment> [options]', '--kind <kind> --access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json'],
  ['policies', 'policies [project] [options]', '--access-token <token> --base-uri <url> --timeout <ms> --retries <n> --verbose --json'],
  ['demo', 'demo [options]', '--verbose'],
  ['fake', 'fake [options]', '--port <port> --speed <factor> --env <shell> --detach'],
  ['help', 'help [command] [options]', ''],
]

/** The option help each command has of its own. */
const OWN_HELP = {
  complete: { 'dry-run': /^print the write and send nothing \(the release and its pipeline are read first/ },
  reopen: { 'dry-run': /^print the write and send nothing \(the release and its pipeline are read first/ },
  start: { 'dry-run': /^print the PUT and send nothing \(a phase by index or name is read first, with a GET\)$/ },
  'complete-many': {
    file: /^a JSON array of \{ projectKey, flagKey, phase, complete\? \} \(- for stdin\); phase: a 0-based index/,
    json: /^print one result per item as JSON: \{ ok, projectKey, flagKey, phase, release \| error \}$/,
    'dry-run': /^print the PATCH of each item and send none/,
  },
  pipelines: { json: /^print every release pipeline as a JSON array/ },
  pipeline: { json: /^print \{ pipeline, counts \} as JSON/ },
  advance: { json: /^print one result per flag as JSON/, 'dry-run': /^list the flags that would move/ },
  delete: { json: /^with --dry-run, print the request as JSON$/ },
  'rollout start': {
    from: /^the variation to move from: its id, name or value \(default: what the flag serves there now/,
    'dry-run': /^print the start and send nothing \(the flag is read first, with a GET, unless --to and --from are variation ids\)$/,
    json: /^print the release as JSON \(with --watch, one JSON object per change; with --dry-run, the request\)$/,
  },
  'rollout status': { json: /^print the release as JSON, as LaunchDarkly sent it$/ },
  'rollout watch': { json: /^print one JSON object \(the release as sent\) per line, at each change$/ },
  'rollout list': { json: /^print every release as a JSON array/ },
  policies: { json: /^print the policies as JSON/ },
}

test('each command’s usage: its arguments, its options, and help for every one of them', () => {
  assert.deepEqual(Object.keys(COMMANDS), SYNOPSES.map(([name]) => name), 'every command, in this order')
  for (const [name, line, options] of SYNOPSES) {
    const [synopsis, summary, ...rest] = usage(name).split('\n\n')
    const list = rest.find((part) => part.startsWith('Options:'))
    if (COMMANDS[name].example) assert.equal(rest[0], `Example:\n  ${COMMANDS[name].example}`)
    assert.equal(synopsis, `Usage: ld-release ${line}`)
    assert.ok(summary.length > 20 && summary.endsWith('.') && summary[0] === summary[0].toUpperCase(), `${name}: ${summary}`)
    assert.equal(summary, `${COMMANDS[name].summary[0].toUpperCase()}${COMMANDS[name].summary.slice(1)}.`)
    const rows = list.split('\n').slice(1).map((row) => row.trim().split(/ {2,}/))
    assert.deepEqual(rows.map(([option]) => option), [...(options ? options.split(/ (?=--)/) : []), '-h, --help', '-V, --version'], name)
    for (const [option, help] of rows) assert.ok(help && help.length > 8, `${name} ${option} has help: ${help}`)
    // A command that takes a phase says what a phase may be.
    if (line.includes('<phase>')) assert.match(summary, /\(phase: a 0-based index, a phase name, or id:<phase id>\)\.$/)
    // The options whose help is the command's own show it; the others the general one.
    for (const [flag, help] of rows.filter(([flag]) => flag.startsWith('--'))) {
      const option = flag.slice(2).split(' ')[0]
      const own = OWN_HELP[name]?.[option]
      if (own) assert.match(help, own, `${name} --${option}`)
      else assert.equal(help, OPTIONS[option].help, `${name} --${option}`)
    }
  }
  assert.match(usage('complete'), /\n {2}--dry-run {15}print the write and send nothing \(the release and its pipeline are read first, with GETs/)
  assert.match(usage('reopen'), /\n {2}--dry-run {15}print the write and send nothing/)
})

test('the flags of library options take their help from the library, without backquotes or the final period', () => {
  assert.equal(OPTIONS['access-token'].help, 'The access token. Default: env LD_ACCESS_TOKEN, then LAUNCHDARKLY_ACCESS_TOKEN')
  assert.equal(OPTIONS.timeout.help, 'Timeout of each attempt in milliseconds. Default 30000')
  assert.equal(OPTIONS.retries.help, 'Retries after the first attempt, for 429, 5xx, timeouts and network failures. Default 3; 0 disables')
  assert.equal(OPTIONS.concurrency.help, 'How many requests may be in flight at once. Default 8')
  assert.match(OPTIONS['base-uri'].help, /^The LaunchDarkly instance\. Default: env LD_BASE_URI, then LAUNCHDARKLY_API_HOST, then https:\/\/app\.launchdarkly\.com\. http: is accepted only for loopback hosts$/)
  // Every option has a value name or none, and help.
  for (const [name, spec] of Object.entries(OPTIONS)) {
    assert.ok(spec.help.length > 8, name)
    if (spec.value !== undefined) assert.match(spec.value, /^<[a-z.]+>$/, name)
  }
  assert.deepEqual(Object.entries(OPTIONS).filter(([, s]) => s.value === undefined).map(([n]) => n), ['json', 'dry-run', 'verbose', 'no-auto-rollback', 'cleanup', 'watch', 'roll-back', 'roll-forward', 'current', 'yes', 'detach', 'help', 'version'])
})

test('the rollout commands and policies each show their example; the followers their own exit codes', () => {
  const examples = {
    'rollout start': 'ld-release rollout start web new-checkout production --to Enabled --steps 1%:10m,10%:30m,50%:1h --metric checkout-errors --watch',
    'rollout status': 'ld-release rollout status web new-checkout production',
    'rollout watch': 'ld-release rollout watch web new-checkout production',
    'rollout stop': 'ld-release rollout stop web new-checkout production --roll-back --yes',
    'rollout list': 'ld-release rollout list web new-checkout production --kind guarded',
    policies: 'ld-release policies web',
  }
  for (const [command, example] of Object.entries(examples)) assert.equal(usage(command).split('\n\n')[2], `Example:\n  ${example}`, command)
  const exits =
    '\nFollowing a release (watch, start --watch): 0 it completed; 4 it was reverted (rolled back); 5 it waits for a person\n(manual advance, or a regression without auto-rollback); 130 interrupted (Ctrl-C): the release keeps running.'
  for (const command of ['rollout start', 'rollout watch']) assert.ok(usage(command).endsWith(`closed or full), although the command itself succeeded.${exits}`), command)
  assert.ok(usage('rollout status').endsWith('although the command itself succeeded.'))
})

test('--metric, --phase and --bypass-health-check may be given more than once, in order', () => {
  const { values } = parseCommandLine(['rollout', 'start', 'web', 'f', 'production', '--to', 'On', '--metric', 'a', '--phase', 'everyone', '--metric', 'b', '--phase', 'segment:s', '--bypass-health-check', 'metric_events_any', '--bypass-health-check', 'flag_evaluations_any'])
  assert.deepEqual(values.metric, ['a', 'b'])
  assert.deepEqual(values.phase, ['everyone', 'segment:s'])
  assert.deepEqual(values['bypass-health-check'], ['metric_events_any', 'flag_evaluations_any'])
  assert.deepEqual(parseCommandLine(['rollout', 'start', 'web', 'f', 'production', '--metric', 'a']).values.metric, ['a'], 'once: a list of one')
})

test('options of other tools name what this command line takes instead, whatever their case', () => {
  const viaToken = 'use --access-token <token> (or set LD_ACCESS_TOKEN)'
  const viaUri = 'use --base-uri <url> (or set LD_BASE_URI)'
  const asArgument = (what) => `the ${what} is an argument: ld-release status <project> <flag>`
  const cases = {
    token: viaToken,
    'api-key': viaToken,
    apikey: viaToken,
    'api-token': viaToken,
    'auth-token': viaToken,
    'base-url': viaUri,
    host: viaUri,
    'api-host': viaUri,
    url: viaUri,
    server: viaUri,
    project: asArgument('project'),
    'project-key': asArgument('project'),
    flag: asArgument('flag'),
    'flag-key': asArgument('flag'),
    phase: 'the phase is an argument of the commands that take one, e.g. ld-release complete <project> <flag> <phase>',
    'phase-id': 'the phaseId is an argument of the commands that take one, e.g. ld-release phase-status <project> <flag> <phaseId>',
    'pipeline-key': 'use --pipeline <key>',
    output: 'use --json (for JSON output)',
    format: 'use --json (for JSON output)',
    'max-retries': 'use --retries <n>',
    'timeout-ms': 'use --timeout <ms>',
  }
  for (const [name, instead] of Object.entries(cases)) {
    // Typed in capitals, with a value that may be a token: never echoed.
    const flag = `--${name.toUpperCase()}`
    assert.deepEqual(refused(['status', 'web', 'f', `${flag}=SECRET`]), { message: `unknown option ${flag}: ${instead}`, command: 'status' }, name)
  }
  assert.deepEqual(refused(['complete-many', '--project', 'x']), { message: 'unknown option --project: each item of --file names its own: { projectKey, flagKey, phase }', command: 'complete-many' })
  assert.deepEqual(refused(['pipelines', '--flag', 'x']), { message: 'unknown option --flag: the flag is an argument of the commands that take one, e.g. ld-release status <project> <flag>', command: 'pipelines' })
  assert.deepEqual(refused(['phase-status', 'w', 'f', '--phase-id', 'x']), { message: 'unknown option --phase-id: the phaseId is an argument: ld-release phase-status <project> <flag> <phaseId>', command: 'phase-status' })
  assert.deepEqual(refused(['--Token', 'x', 'status', 'w', 'f']), { message: `unknown option --Token: ${viaToken}`, command: undefined }, 'before the command: its value took the command’s place')
  assert.deepEqual(refused(['--project', 'x', 'status', 'w', 'f']), {
    message: 'unknown option --project: the project is an argument of the commands that take one, e.g. ld-release status <project> <flag>',
    command: undefined,
  })
  assert.deepEqual(refused(['pipeline', 'web', '--pipeline-key', 'x']), { message: 'unknown option --pipeline-key: the pipeline is an argument: ld-release pipeline <project> <pipeline>', command: 'pipeline' })
  // A short option is no other tool's long one, and a dash inside an option is no number.
  assert.deepEqual(refused(['status', 'w', 'f', '-token']), { message: 'unknown option -t', command: 'status' })
  assert.deepEqual(refused(['status', 'w', 'f', '--x-1']), { message: 'unknown option --x-1', command: 'status' })
})

test('a command group: its commands, its usage, and help for it', () => {
  for (const argv of [['rollout'], ['rollout', '--json']]) {
    assert.deepEqual(refused(argv), { message: 'rollout needs a command: start, status, watch, stop, list', command: 'rollout' }, argv.join(' '))
  }
  assert.deepEqual(refused(['rollout', '--hepl']), { message: 'unknown option --hepl (did you mean --help?)', command: 'rollout' })
  assert.deepEqual(refused(['rollout', 'strat']), { message: 'unknown command "rollout strat" (did you mean rollout start?)', command: 'rollout' })
  assert.deepEqual(parseCommandLine(['rollout', '--help']), { help: true, command: 'rollout' })
  assert.deepEqual(parseCommandLine(['rollout', 'start', '--help']), { help: true, command: 'rollout start' })
  assert.deepEqual(parseCommandLine(['rollout', 'status', 'w', 'f', 'e', 'r']), { command: 'rollout status', values: {}, args: { project: 'w', flag: 'f', environment: 'e', release: 'r' }, clientOptions: {} })
  assert.deepEqual(refused(['rollout', 'status', 'w', 'f']), { message: 'rollout status takes <project> <flag> <environment> [release], got 2 arguments', command: 'rollout status' })
  assert.deepEqual(refused(['rollout', 'status', 'w', 'f', 'e', 'r', 'x']), { message: 'rollout status takes <project> <flag> <environment> [release], got 5 arguments: "x" is extra', command: 'rollout status' })
  assert.deepEqual(refused(['rollout', 'list', 'w', 'f', 'e', 'r']), { message: 'rollout list takes <project> <flag> <environment>, got 4 arguments: "r" is extra', command: 'rollout list' })
  assert.deepEqual(refused(['policies', 'a', 'b']), { message: 'policies takes [project], got 2 arguments: "b" is extra', command: 'policies' })
  assert.equal(
    usage('rollout'),
    [
      'Usage: ld-release rollout <start|status|watch|stop|list> [arguments] [options]',
      '',
      'Commands:',
      '  rollout start   start a guarded or progressive release of a flag in one environment',
      "  rollout status  draw a release: its phases and audiences, the steps done and to come, its metrics, and its status (without [release], the flag's running release there, or the newest)",
      '  rollout watch   follow a release until it ends: exit 0 completed, 4 reverted, 5 waiting for a person, 130 on Ctrl-C (the release keeps running)',
      '  rollout stop    stop a running release, rolling it back or forward (asks first on a terminal, unless --yes)',
      "  rollout list    list a flag's releases in one environment, newest first",
      '',
      'Exit codes: 0 success; 1 an API or network error; 2 a usage error (a bad argument,',
      'a missing token or an insecure --base-uri); 3 the output could not be written (stdout',
      'closed or full), although the command itself succeeded.',
      '',
      "Run 'ld-release rollout <command> --help' for a command's usage.",
    ].join('\n'),
  )
  assert.equal(usage('roll'), usage(), 'no group or command of that name: the program')
  assert.equal(hint('rollout'), "Run 'ld-release rollout --help' for usage.")
  assert.equal(hint('rollout start'), "Run 'ld-release rollout start --help' for usage.")
  assert.equal(hint('help'), "Run 'ld-release --help' for usage.")
})

test('ld-release help [command]: a command, a group or one of its commands; nothing else', () => {
  assert.deepEqual(parseCommandLine(['help']), { help: true, command: undefined })
  assert.deepEqual(parseCommandLine(['help', 'status']), { help: true, command: 'status' })
  assert.deepEqual(parseCommandLine(['help', 'rollout']), { help: true, command: 'rollout' })
  assert.deepEqual(parseCommandLine(['help', 'rollout', 'start']), { help: true, command: 'rollout start' })
  const cases = [
    [['help', '--json'], 'help does not take --json'],
    [['help', '--jsno'], 'unknown option --jsno (did you mean --json?)'],
    [['help', 'status', 'web'], 'help takes [command], got 2 arguments'],
    [['help', 'rollout', 'start', 'x'], 'help takes [command], got 3 arguments'],
    [['help', 'rollout', 'strat'], 'unknown command "rollout strat" (did you mean rollout start?)'],
    [['help', 'stauts'], 'unknown command "stauts" (did you mean status?)'],
  ]
  for (const [argv, message] of cases) assert.deepEqual(refused(argv), { message, command: 'help' }, argv.join(' '))
})
