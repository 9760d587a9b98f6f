'use strict'
// Text for a terminal: a Release (the pipeline, then one line per phase), a request
// preview, a progress bar, the table of a project's release pipelines, and the chart of
// where the flags of one pipeline stand.

const MARKS = { done: '✓', active: '●', waiting: '○' }
const ANSI = { bold: [1, 22], dim: [2, 22], green: [32, 39], yellow: [33, 39], cyan: [36, 39] }

/**
 * Whether stdout-like `stream` should get colour: a TTY and no NO_COLOR. FORCE_COLOR
 * forces it (`0` or `false` turns it off); NO_COLOR wins over both.
 */
function wantsColor(stream, env = process.env) {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.FORCE_COLOR !== undefined) return !['0', 'false'].includes(env.FORCE_COLOR)
  return Boolean(stream && stream.isTTY)
}

function paint(color) {
  return (style, text) => (color ? `\x1b[${ANSI[style][0]}m${text}\x1b[${ANSI[style][1]}m` : text)
}

/** `2026-11-28 06:00 UTC` */
function formatTime(ms) {
  if (!Number.isFinite(ms)) return '' // false for anything that is not a number, too
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC'
}

/** Who completed a phase: member email, else token name, else the token's ending. */
function completedBy(phase) {
  const by = phase._completedBy
  if (!by) return ''
  if (by.member?.email) return by.member.email
  if (by.token?.name) return by.token.name
  if (by.token?.ending) return `token …${by.token.ending}`
  return ''
}

/**
 * LaunchDarkly's status words. The service answers `not-started`, `ready-to-start`,
 * `active` and `completed`; the OpenAPI document's words become the same.
 */
const DOCUMENT_WORDS = { NotStarted: 'not-started', ReadyToStart: 'ready-to-start', Started: 'active', Paused: 'paused', Complete: 'completed' }

/** A phase's status as one of the service's words (an unknown word as it came); undefined when absent. */
function statusWord(status) {
  if (status === undefined || status === null || status === '') return undefined
  return DOCUMENT_WORDS[status] ?? String(status)
}

/**
 * done / active / waiting, for each phase in order. A phase is done when complete and
 * in progress when it says so (`active`, `paused`, `started`); `not-started` and
 * `ready-to-start`, as the service sends them, wait. Without a status that says (none,
 * the document's `NotStarted`, an unknown word), the first phase after completed ones
 * is the one in progress.
 */
function phaseStates(release) {
  let previousDone = true
  return phasesOf(release).map((phase) => {
    const word = statusWord(phase.status)
    let state
    if (phase.complete === true || word === 'completed') state = 'done'
    else if (word === 'active' || word === 'paused' || phase.started === true) state = 'active'
    else if (phase.status === 'not-started' || word === 'ready-to-start') state = 'waiting'
    else state = previousDone ? 'active' : 'waiting'
    previousDone = state === 'done'
    return state
  })
}

/** The phases, each an object (a phase that is not one is drawn empty, keeping every index). */
function phasesOf(release) {
  return Array.isArray(release.phases) ? release.phases.map((p) => (p !== null && typeof p === 'object' ? p : {})) : []
}

/**
 * Whether `release` is finished: of a new release pipeline (`newPipeline`, which the
 * release does not say itself), whose last phase is `active`. Such a pipeline has no
 * call that completes a last phase. New pipelines answer in the service's words: a last
 * phase in the document's (`Started`) is not one of theirs.
 */
function isFinished(release, newPipeline) {
  const last = phasesOf(release).at(-1)
  if (!newPipeline || !last || last.complete === true) return false
  return last.status === 'active' || ((last.status === undefined || last.status === null) && last.started === true)
}

function environments(phase) {
  // Stryker disable next-line ArrayDeclaration: an item with no environment key or name is dropped by the filter below
  const audiences = Array.isArray(phase._audiences) ? phase._audiences : []
  const names = audiences.map((a) => a?.environment?.key ?? a?.name).filter((n) => typeof n === 'string' && n !== '')
  return names.length ? names.join(', ') : ''
}

/** `Name (pipeline-key) · version 3`: what the release has of these. */
function heading(release, p) {
  const { name, releasePipelineKey: key, _version: version } = release
  const title = typeof name === 'string' && name !== '' ? name : typeof key === 'string' && key !== '' ? key : 'Release'
  const parts = [p('bold', title)]
  if (typeof key === 'string' && key !== '' && key !== title) parts.push(` (${key})`)
  if (typeof version === 'number' || (typeof version === 'string' && version !== '')) parts.push(` · version ${version}`)
  return parts.join('')
}

/**
 * The drawing of `release`; `color` adds ANSI styles, `newPipeline` says the release is
 * of a new release pipeline (then an active last phase means it is finished). Ends
 * without a newline. Copes with what the service leaves out: phases without dates or
 * audiences, no `_version`, no description.
 */
function renderRelease(release, { color = false, newPipeline = false } = {}) {
  const p = paint(color)
  const phases = phasesOf(release)
  const finished = isFinished(release, newPipeline)
  const states = phaseStates(release)
  if (finished) states[states.length - 1] = 'done'
  const names = phases.map((ph) => String(ph._name ?? ''))
  const nameWidth = Math.max(0, ...names.map((n) => n.length))
  const indexWidth = String(Math.max(0, phases.length - 1)).length
  const lines = [heading(release, p)]
  phases.forEach((phase, i) => {
    const state = states[i]
    const word = statusWord(phase.status)
    const mark = { done: p('green', MARKS.done), active: p('yellow', MARKS.active), waiting: p('dim', MARKS.waiting) }[state]
    const details = []
    if (phase._startedDate) details.push(`started ${formatTime(phase._startedDate)}`)
    if (state === 'done' && !(finished && i === phases.length - 1)) {
      const who = completedBy(phase)
      details.push(['completed', formatTime(phase._completionDate), who && `by ${who}`].filter(Boolean).join(' '))
    } else if (state === 'waiting') {
      // `not-started` says no more than the mark; `ready-to-start` and unknown words do.
      details.push(word === undefined || word === 'not-started' ? 'waiting' : word)
    } else if (state === 'active' && word !== undefined && !['active', 'not-started', 'ready-to-start'].includes(word)) {
      details.push(word)
    }
    const envs = environments(phase)
    if (envs) details.push(p('cyan', envs))
    const name = names[i].padEnd(nameWidth)
    lines.push(`  ${String(i).padStart(indexWidth)} ${mark} ${state === 'waiting' ? p('dim', name) : name}  ${details.join(' · ')}`.trimEnd())
  })
  if (finished) {
    const since = formatTime(phases.at(-1)._startedDate)
    lines.push(`  finished${since ? ` ${since}` : ''}: its last phase is active`)
  }
  if (release._canceledAt) lines.push(`  canceled ${formatTime(release._canceledAt)}`)
  return lines.join('\n')
}

/** A request preview as the request would go out: the request line, headers, then the body. */
function renderPreview(preview) {
  const lines = [`${preview.method} ${preview.url}`, ...Object.entries(preview.headers).map(([k, v]) => `${k}: ${v}`)]
  if (preview.body !== undefined && preview.body !== null) lines.push('', preview.body)
  return lines.join('\n')
}

/** A progress bar drawn in place on `stream`: `update(done, total)`, then `done()`. */
function progressBar(stream, width = 30) {
  let last = ''
  return {
    update(done, total) {
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


/** `text` with control characters (C0, DEL, C1) shown as `?`: a server's words never move the cursor or change colours. */
function printable(text) {
  return Array.from(String(text ?? ''), (c) => (c.codePointAt(0) < 0x20 || (c.codePointAt(0) >= 0x7f && c.codePointAt(0) <= 0x9f) ? '?' : c)).join('')
}

/** `_isLegacy: false` is a new pipeline; anything else counts as legacy, as the library reads it. */
function pipelineKindWord(pipeline) {
  return pipeline?._isLegacy === false ? 'new' : 'legacy'
}

/** The phases of a pipeline as sent, each an object (a phase that is not one is shown empty). */
function pipelinePhases(pipeline) {
  return Array.isArray(pipeline?.phases) ? pipeline.phases.map((p) => (p !== null && typeof p === 'object' ? p : {})) : []
}

/**
 * The table of release pipelines: key, name, kind (legacy or new), the phases in order,
 * and whether it is the project's default. Ends without a newline.
 */
function renderPipelineTable(pipelines, { color = false } = {}) {
  const p = paint(color)
  const header = ['KEY', 'NAME', 'KIND', 'PHASES', 'DEFAULT']
  const rows = pipelines.map((pipeline) => {
    const item = pipeline !== null && typeof pipeline === 'object' ? pipeline : {}
    const phases = pipelinePhases(item).map((phase) => printable(phase.name))
    return [printable(item.key), printable(item.name), pipelineKindWord(item), phases.join(' → '), item.isProjectDefault === true ? 'yes' : '']
  })
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [p('bold', line(header)), ...rows.map(line)].join('\n')
}

/**
 * The chart of a pipeline: its phases in order, each with a bar of the flags whose
 * active phase it is, then the finished flags (no active phase). Ends without a newline.
 */
function renderPipelineChart(pipeline, counts, { color = false, width = 24 } = {}) {
  const p = paint(color)
  const name = printable(pipeline?.name)
  const key = printable(pipeline?.key)
  const title = name || key || 'Release pipeline'
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`
  const lines = [`${p('bold', title)}${key && key !== title ? ` (${key})` : ''} · ${pipelineKindWord(pipeline)} pipeline · ${plural(counts.total, 'flag')}`]
  const rows = counts.phases.map((phase) => [String(phase.index), printable(phase.name), phase.flags, 'cyan'])
  rows.push(['', 'finished', counts.finished, 'green'])
  if (counts.elsewhere) rows.push(['', 'at a phase not in the pipeline', counts.elsewhere, 'yellow'])
  const most = Math.max(1, ...rows.map((r) => r[2]))
  const indexWidth = Math.max(...rows.map((r) => r[0].length))
  const nameWidth = Math.max(...rows.map((r) => r[1].length))
  const countWidth = Math.max(...rows.map((r) => String(r[2]).length))
  for (const [index, label, n, style] of rows) {
    const size = n === 0 ? 0 : Math.max(1, Math.round((n / most) * width))
    const bar = p(style, '█'.repeat(size)) + ' '.repeat(width - size)
    lines.push(`  ${index.padStart(indexWidth)} ${label.padEnd(nameWidth)}  ${bar}  ${String(n).padStart(countWidth)}`)
  }
  const last = counts.phases.at(-1)
  if (pipelineKindWord(pipeline) === 'new' && last?.flags) {
    // A release of a new pipeline is finished once its last phase is active.
    lines.push(`  ${plural(last.flags, 'flag')} at ${printable(last.name)}, the last phase of a new pipeline: ${last.flags === 1 ? 'its release is' : 'their releases are'} finished`)
  }
  return lines.join('\n')
}

module.exports = { renderPipelineChart, renderPipelineTable, pipelinePhases, printable, pipelineKindWord, renderRelease, renderPreview, progressBar, formatTime, phaseStates, isFinished, statusWord, wantsColor }
