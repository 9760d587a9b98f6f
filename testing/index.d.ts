import type { PatchOperation, Release } from '../index'

/** Options of `startFakeLaunchDarkly`. */
export interface FakeOptions {
  /** The token it accepts (raw, in `Authorization`). Default: a random `api-fake-…`. */
  apiKey?: string
  /** The port on 127.0.0.1. Default 0: any free port. */
  port?: number
  /** Releases it holds at start, per project and flag. */
  releases?: Array<{ projectKey: string; flagKey: string; release: Release }>
  /**
   * A per-route limit of `limit` requests per fixed window of `windowMs` (default 10000).
   * Every answer on a limited route carries `X-Ratelimit-Route-Remaining`,
   * `X-Ratelimit-Global-Remaining` and `X-Ratelimit-Reset` (epoch ms); over the limit it
   * answers 429 `rate_limited`.
   */
  rateLimit?: { limit: number; windowMs?: number }
  /** Answer 403 without `LD-API-Version: beta`, as LaunchDarkly does. Default true. */
  requireBetaHeader?: boolean
}

/** A request as the fake received it. */
export interface RecordedRequest {
  method: string
  /** The request target as sent, still percent-encoded */
  path: string
  /** Lower-case names; repeated headers joined with `, ` */
  headers: Record<string, string>
  /** Names and values as received, to count repeated headers */
  rawHeaders: string[]
  body: string
  /** The body parsed, when it was JSON */
  json?: unknown
  /** When the whole request had arrived (epoch milliseconds) */
  receivedAt: number
}

/**
 * A fault for the next matching request(s). A status answers that status (with `body`,
 * by default a LaunchDarkly-style JSON error); the other kinds break the answer as named.
 * A fault with only `delayMs` delays the request, which is then handled normally.
 */
export interface Fault {
  /** Which requests it applies to; `path` is the decoded route, e.g. `/api/v2/flags/web/checkout/release`. Default: any. */
  match?: { method?: string; path?: string }
  /** How many requests it applies to. Default 1. */
  times?: number
  status?: number
  body?: string | object
  contentType?: string
  headers?: Record<string, string | number>
  delayMs?: number
  /** Close the connection before any answer, or after the headers and part of a body. */
  drop?: 'before-response' | 'mid-body'
  /** A 200 whose body is not JSON. */
  malformed?: boolean
  /** A 200 JSON body of this many bytes, streamed without Content-Length. */
  oversizeBytes?: number
  /** A 200 whose valid body arrives 16 bytes at a time, this many ms apart. */
  trickleMs?: number
  /** Answer nothing for this long, then close the connection. */
  stallMs?: number
}

export interface FakeLaunchDarkly {
  /** `http://127.0.0.1:<port>`, no trailing slash */
  url: string
  port: number
  apiKey: string
  /** Every request received, in order, including those answered by faults and 429s. */
  requests: RecordedRequest[]
  /** How many 429s the rate limit has sent. */
  readonly rateLimited: number
  setRelease(projectKey: string, flagKey: string, release: Release): void
  getRelease(projectKey: string, flagKey: string): Release | undefined
  deleteRelease(projectKey: string, flagKey: string): boolean
  clearRequests(): void
  injectFault(fault: Fault): void
  /** Stops listening and closes every connection. */
  close(): Promise<void>
}

/** Starts a fake LaunchDarkly on 127.0.0.1 serving the releases-beta endpoints. */
export declare function startFakeLaunchDarkly(options?: FakeOptions): Promise<FakeLaunchDarkly>

/** A realistic release of a legacy three-phase pipeline (Testing, Staging, Production), with fixed ids and timestamps. */
export declare function sampleRelease(overrides?: Partial<Release>): Release

export type { PatchOperation, Release }
