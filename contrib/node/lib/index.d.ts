// Types for uhw-worker (see README.md).

/// <reference types="node" />

export type LogLevel = 'debug' | 'info' | 'warning' | 'warn' | 'error' | 'critical' | 0 | 1 | 2 | 3 | 4;

/** A header value: a string (sent as latin1), a number, bytes, or several of them (repeated header). */
export type HeaderValue = string | number | Uint8Array | Array<string | number | Uint8Array>;
export type Headers =
  | Record<string, HeaderValue | undefined>
  | Iterable<[string, HeaderValue]>;

export type Body = string | Uint8Array | ArrayBuffer | null | undefined | AsyncIterable<string | Uint8Array>;

/** What a handler returns: one Response (a body that is an async iterable is streamed). */
export interface Answer {
  status?: number;          // 200..599, default 200
  headers?: Headers;
  body?: Body;
  json?: unknown;           // instead of body: sent as JSON (content-type application/json unless set)
}

export interface SseEvent {
  event?: string;
  id?: string | number;
  data?: unknown;           // string, Buffer (UTF-8) or any value sent as JSON
  retry?: number;           // ms
  comment?: string;
}

/** Why a request's signal aborted. */
export class UhwCancelError extends Error {
  name: 'AbortError';
  code: 'CLIENT_GONE' | 'TIMEOUT' | 'SHUTDOWN';
}

export interface UhwResponse {
  readonly id: number;
  readonly started: boolean;
  readonly finished: boolean;
  readonly cancelled: boolean;
  readonly signal: AbortSignal;
  /** StreamStart. Throws on an invalid status or header, or when already started/finished. */
  start(status?: number, headers?: Headers): this;
  /** StreamData (starting with 200 if needed); resolves true when the pipe can take more, false if cancelled. */
  write(chunk: string | Uint8Array | ArrayBuffer): Promise<boolean>;
  sse(event: SseEvent | string): Promise<boolean>;
  ndjson(value: unknown): Promise<boolean>;
  /** Ends the response; an Error or a non-empty string aborts it (the client sees it truncated). */
  end(error?: Error | string): void;
  keepAlive(): void;
  log(level: LogLevel, message: unknown): void;
}

export interface UhwRequest {
  readonly id: number;
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly url: string;
  readonly searchParams: URLSearchParams;
  readonly headers: Record<string, string>;
  readonly rawHeaders: Array<[string, string]>;
  header(name: string): string | undefined;
  headerValues(name: string): string[];
  readonly body: Buffer;
  text(): string;
  json(): any;
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly scheme: string;
  readonly httpVersion: string;
  readonly pool: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly cancelled: boolean;
  readonly res: UhwResponse;
  log(level: LogLevel, message: unknown): void;
}

export type Handler = (req: UhwRequest, res: UhwResponse) => Answer | void | Promise<Answer | void>;

export interface ServeOptions {
  /** Requests in flight at once, announced in Ready (default 64). */
  concurrency?: number;
  /** Free text shown in uhw's logs and status. */
  info?: string;
  onConfigure?: (settings: Readonly<Record<string, string>>) => void | Promise<void>;
  /** Shutdown or EOF: nothing new comes; the process exits once this and every open request are done. */
  onShutdown?: (graceMs: number) => void | Promise<void>;
}

export interface Worker {
  readonly concurrency: number;
  readonly settings: Readonly<Record<string, string>>;
  readonly stopping: boolean;
  setCapacity(n: number): void;
  pause(): void;
  resume(): void;
}

export function serve(handler: Handler, options?: ServeOptions): Worker;
export function log(level: LogLevel, message: unknown): void;
export function settings(): Readonly<Record<string, string>>;
export function stopping(): boolean;
export function setCapacity(n: number): void;
export function pause(): void;
export function resume(): void;
export const format: {
  sseEvent(event: SseEvent | string): string;
  ndjsonLine(value: unknown): string;
};
