'use strict'
// Text for a terminal of environment releases and release policies: a release drawn
// (its phases with their audience and a bar of their steps, the metrics, the status and
// reason in LaunchDarkly's words), a one-line summary for plain watch output, the list
// of a flag's releases, and a project's release policies with their stages as a chart.
//
// Every text a server sent goes through `text` (the CLI's sanitising function: token
// masked, control characters made inert); numbers are formatted here.

const { formatTime } = require('./render.js')
const { formatDuration, formatPercent } = require('./rollout-parse.js')

const ANSI = { bold: [1, 22], dim: [2, 22], green: [32, 39], yellow: [33, 39], red: [31, 39], cyan: [36, 39] }
const paint = (color) => (style, s) => (color ? `\x1b[${ANSI[style][0]}m${s}\x1b[${ANSI[style][1]}m` : s)

/** What LaunchDarkly's status reasons mean, said plainly after the word itself. */
const REASONS = {
  waiting_regression_detected: 'a metric regressed: the release waits for a person to dismiss it or stop the release',
  waiting_phase_ended: 'a phase ended: the release waits for a person to start the next one',
  completed_automatic: 'every phase completed',
  completed_manual: 'stopped by rolling forward',
  reverted_regression_detected: 'a metric regressed and the release was rolled back',
  reverted_manual: 'stopped by rolling back',
  reverted_discarded: 'ended without a regression or a person rolling it back (the flag changed, or the release ended first)',
  reverted_insufficient_data: 'rolled back: not enough data to judge the metrics',
}

const STATUS_STYLE = { completed: 'green', reverted: 'red', waiting: 'yellow', in_progress: 'cyan', pending: 'dim' }

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)
const list = (v) => (Array.isArray(v) ? v.map((x) => (isObject(x) ? x : {})) : [])

/** The index of the current step of `phase`, or -1. */
function currentStep(phase) {
  return Number.isInteger(phase.currentStepIndex) ? phase.currentStepIndex : -1
}

/**
 * When the current step of `release` should end (Unix ms), or null: `startedAt +
 * durationMillis` of the current phase's current step, while the release is in progress.
 */
function nextStepAt(release) {
  if (release.status !== 'in_progress' || !Number.isInteger(release.currentPhaseIndex)) return null
  const phase = list(release.phases)[release.currentPhaseIndex]
  const step = phase && list(phase.steps)[currentStep(phase)]
  if (!step || typeof step.startedAt !== 'number' || typeof step.durationMillis !== 'number') return null
  return step.startedAt + step.durationMillis
}

/**
 * The newest time `release` holds (Unix ms): its server's clock had reached at least
 * that when it answered. Used when that clock runs ahead of this machine's (a fake
 * whose clock is sped up), so that times left are not counted from a clock behind.
 */
function latestTime(release) {
  let latest = 0
  const consider = (v) => {
    if (Number.isFinite(v)) latest = Math.max(latest, v)
  }
  consider(release.createdAt)
  consider(release.startedAt)
  consider(release.endedAt)
  for (const phase of list(release.phases)) {
    consider(phase.startedAt)
    consider(phase.endedAt)
    for (const step of list(phase.steps)) {
      consider(step.startedAt)
      consider(step.endedAt)
    }
  }
  return latest
}

/** `Enabled (true)`: a variation's name and value, from the flag when read, else the value the release holds. */
function variationLabel(text, flag, id, value) {
  const variation = list(flag?.variations).find((v) => v._id === id)
  // A release that names neither the variation nor its value shows `?`, not `undefined`.
  if (!variation && value === undefined) return typeof id === 'string' && id ? text(id) : '?'
  const shown = JSON.stringify(variation ? variation.value : value) ?? String(value)
  const name = variation?.name
  return name ? `${text(name)} (${text(shown)})` : text(shown)
}

/** A clause as people write it: `email endsWith @example.com`, `in segment beta`. */
function clauseText(text, clause) {
  const values = Array.isArray(clause.values) ? clause.values.map((v) => text(typeof v === 'string' ? v : JSON.stringify(v))).join(',') : ''
  if (clause.op === 'segmentMatch') return `${clause.negate ? 'not ' : ''}in segment ${values}`
  return `${text(clause.attribute)} ${clause.negate ? 'not ' : ''}${text(clause.op)} ${values}`
}

/**
 * A phase's audience: its description, else its rule's clauses from the flag (less the
 * randomization unit's kind clause), `every <unit>` when that is all there is.
 */
function audience(text, release, phase, flag) {
  if (typeof phase.description === 'string' && phase.description !== '') return text(phase.description)
  const env = flag?.environments?.[release.environmentKey]
  const rule = list(env?.rules).find((r) => r._id === phase.ruleId)
  if (!rule) return phase.ruleId ? `rule ${text(phase.ruleId)}` : 'the default rule'
  const clauses = list(rule.clauses).filter((c) => !(c.attribute === 'kind' && c.op === 'in' && !c.negate))
  if (typeof rule.description === 'string' && rule.description) return text(rule.description)
  return clauses.length ? clauses.map((c) => clauseText(text, c)).join(' and ') : `every ${text(release.randomizationUnit ?? 'context')}`
}

/** `█ done, ▶ current, · pending`: one cell per step. */
function stepBar(phase, p) {
  const current = currentStep(phase)
  const ended = phase.status === 'completed'
  return list(phase.steps)
    .map((step, i) => {
      if (ended || (i < current && phase.status !== 'pending')) return p('green', '█')
      if (i === current && (phase.status === 'in_progress' || phase.status === 'waiting')) return p('yellow', '▶')
      if (i === current && phase.status === 'reverted') return p('red', '✗')
      return p('dim', '·')
    })
    .join('')
}

/** `10% · 23m left of 30m · next 50%`: where the current step of a running phase stands. */
function stepDetail(phase, now, p) {
  const steps = list(phase.steps)
  const i = currentStep(phase)
  const step = steps[i]
  const schedule = steps.map((s) => formatPercent(s.allocation)).join(' → ')
  if (!step || !(phase.status === 'in_progress' || phase.status === 'waiting')) return schedule
  const parts = [`step ${i + 1}/${steps.length}: ${p('bold', formatPercent(step.allocation))}`]
  if (phase.status === 'in_progress' && typeof step.startedAt === 'number' && typeof step.durationMillis === 'number') {
    const left = step.startedAt + step.durationMillis - now
    parts.push(left > 0 ? `${formatDuration(left)} left of ${formatDuration(step.durationMillis)}` : `${formatDuration(step.durationMillis)}, due now`)
  }
  if (steps[i + 1]) parts.push(`next ${formatPercent(steps[i + 1].allocation)}`)
  return parts.join(' · ')
}

/** `waiting (waiting_regression_detected: a metric regressed: …)` */
function statusText(text, release, p) {
  const status = text(release.status ?? 'unknown')
  const reason = release.statusReason
  const style = STATUS_STYLE[release.status] ?? 'bold'
  const known = typeof reason === 'string' ? REASONS[reason] : undefined
  return `${p(style, status)}${reason ? ` (${text(reason)}${known ? `: ${known}` : ''})` : ''}`
}

/**
 * The drawing of an environment release. `flag` (optional, as `getFlag` read it) names
 * the variations and the phases' rules; `now` (Unix ms) times the current step. Ends
 * without a newline.
 */
function renderEnvironmentRelease(release, { text, flag = null, color = false, now = Math.max(Date.now(), latestTime(release)) } = {}) {
  const p = paint(color)
  const phases = list(release.phases)
  const from = variationLabel(text, flag, release.originalVariationId, release.originalVariationValue)
  const to = variationLabel(text, flag, release.targetVariationId, release.targetVariationValue)
  const lines = [
    `${p('bold', `${text(release.flagKey)} in ${text(release.environmentKey)}`)} · ${text(release.kind ?? 'release')} release ${text(release.id)}`,
    `  ${from} → ${to} · by ${text(release.randomizationUnit ?? '?')} · ${text(release.advancementMode ?? '?')} advance${release.createdAt ? ` · created ${formatTime(release.createdAt)}` : ''}`,
    `  status: ${statusText(text, release, p)}`,
  ]
  const widths = phases.map((ph) => audience(text, release, ph, flag))
  const width = Math.min(40, Math.max(0, ...widths.map((w) => w.length)))
  phases.forEach((phase, i) => {
    const name = widths[i].length > width ? `${widths[i].slice(0, width - 1)}…` : widths[i].padEnd(width)
    const current = release.currentPhaseIndex === i ? p('yellow', '▸') : ' '
    const word = p(STATUS_STYLE[phase.status] ?? 'bold', text(phase.status ?? '?'))
    const reason = phase.statusReason ? ` (${text(phase.statusReason)})` : ''
    lines.push(`  ${current} phase ${i} ${name}  [${stepBar(phase, p)}] ${word}${reason}  ${stepDetail(phase, now, p)}`.trimEnd())
  })
  const metrics = list(release.metrics)
  if (metrics.length) {
    const phase = Number.isInteger(release.currentPhaseIndex) ? phases[release.currentPhaseIndex] : [...phases].reverse().find((ph) => isObject(ph.metricStatuses) && Object.keys(ph.metricStatuses).length)
    const statuses = isObject(phase?.metricStatuses) ? phase.metricStatuses : {}
    const shown = metrics.map((m) => {
      const status = statuses[m.metricKey]
      const style = status === 'regressed' ? 'red' : status === 'ok' ? 'green' : 'yellow'
      return `${text(m.definition?.name ?? m.metricKey)} ${status === undefined ? p('dim', '-') : p(style, text(status))}${m.autoRollback ? ' (auto-rollback)' : ''}`
    })
    lines.push(`  metrics: ${shown.join(', ')}`)
  }
  const next = nextStepAt(release)
  if (next !== null) lines.push(`  next step ${next > now ? `in ${formatDuration(next - now)}` : 'due now'} (${formatTime(next)})`)
  if (release.endedAt) lines.push(`  ended ${formatTime(release.endedAt)}`)
  return lines.join('\n')
}

/** One line per change, for a watch that is not drawn in place. */
function watchLine(release, { text, now = Math.max(Date.now(), latestTime(release)) }) {
  const parts = [formatTime(Date.now()).replace(' UTC', ''), statusText(text, release, paint(false))]
  const phases = list(release.phases)
  if (Number.isInteger(release.currentPhaseIndex)) {
    const phase = phases[release.currentPhaseIndex] ?? {}
    const steps = list(phase.steps)
    const step = steps[currentStep(phase)]
    parts.push(`phase ${release.currentPhaseIndex + 1}/${phases.length} step ${currentStep(phase) + 1}/${steps.length}${step ? ` ${formatPercent(step.allocation)}` : ''}`)
    const metrics = isObject(phase.metricStatuses) ? Object.entries(phase.metricStatuses) : []
    if (metrics.length) parts.push(metrics.map(([k, v]) => `${text(k)} ${text(v)}`).join(', '))
  }
  const next = nextStepAt(release)
  if (next !== null) parts.push(`next step ${next > now ? `in ${formatDuration(next - now)}` : 'due now'}`)
  return parts.join(' · ')
}

/** The table of a flag's releases in an environment. */
function renderReleaseList(releases, { text, color = false }) {
  const p = paint(color)
  const header = ['ID', 'KIND', 'STATUS', 'REASON', 'PHASES', 'CREATED']
  const rows = releases.map((r) => {
    const phases = list(r.phases)
    const at = Number.isInteger(r.currentPhaseIndex) ? `${r.currentPhaseIndex + 1}/${phases.length}` : `${phases.filter((ph) => ph.status === 'completed').length}/${phases.length} done`
    return [text(r.id), text(r.kind ?? ''), text(r.status ?? ''), text(r.statusReason ?? ''), at, formatTime(r.createdAt)]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)))
  // Every cell padded, the line's end trimmed: the last column has no trailing spaces.
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [p('bold', line(header)), ...rows.map(line)].join('\n')
}

const BLOCKS = '▁▂▃▄▅▆▇█'

/** A policy's stages as a small step chart: `▁▄█ 10% 1h → 50% 1h → 100% 1h`. */
function stageChart(stages) {
  const items = list(stages)
  if (!items.length) return '(no stages)'
  const chart = items.map((s) => BLOCKS[Math.max(0, Math.min(7, Math.ceil(((s.allocation ?? 0) / 100000) * 8) - 1))]).join('')
  return `${chart} ${items.map((s) => `${formatPercent(s.allocation)} ${formatDuration(s.durationMillis)}`).join(' → ')}`
}

/** A project's release policies, in rank order (the default, unscoped one last). */
function renderPolicies(policies, { text, color = false }) {
  const p = paint(color)
  const sorted = [...list(policies)].sort((a, b) => (a.scope ? 0 : 1) - (b.scope ? 0 : 1) || (a.rank ?? 0) - (b.rank ?? 0))
  const lines = []
  for (const policy of sorted) {
    const scope = isObject(policy.scope)
      ? [
          Array.isArray(policy.scope.environmentKeys) && policy.scope.environmentKeys.length ? `environments ${policy.scope.environmentKeys.map(text).join(', ')}` : '',
          Array.isArray(policy.scope.flagTagKeys) && policy.scope.flagTagKeys.length ? `flags tagged ${policy.scope.flagTagKeys.map(text).join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; ') || 'scoped'
      : 'default (every other flag)'
    const config = policy.guardedReleaseConfig ?? policy.progressiveReleaseConfig ?? null
    const rank = policy.scope ? `${policy.rank ?? '?'}.` : '-'
    lines.push(`${rank} ${p('bold', text(policy.key))} ${text(policy.name ?? '')} · ${text(policy.releaseMethod ?? '?')} · ${scope}`)
    if (isObject(config)) {
      const extra = []
      if (config.rolloutContextKindKey) extra.push(`by ${text(config.rolloutContextKindKey)}`)
      if (Array.isArray(config.metricKeys) && config.metricKeys.length) extra.push(`metrics ${config.metricKeys.map(text).join(', ')}`)
      if (config.rollbackOnRegression === true) extra.push('rolls back on a regression')
      lines.push(`   ${stageChart(config.stages)}${extra.length ? `  (${extra.join(', ')})` : ''}`)
    }
  }
  return lines.join('\n')
}

module.exports = { latestTime, renderEnvironmentRelease, renderReleaseList, renderPolicies, watchLine, nextStepAt, stageChart, REASONS }
