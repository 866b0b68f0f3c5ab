/**
 * The report channel: the launcher's fd 3, one end of a socketpair (Node's
 * `'pipe'` stdio entry). The plan goes out as one JSON line; {@link Report}
 * lines come back, one per event: `spawned` (the sandbox's pid, right after
 * clone), `started` (the program was executed; pid 1 sends it, so it may
 * overtake `spawned`), `error` (setup failed), `denied` (what the policy
 * refused, with plan.report) and `audit` (the post-run audit's findings). Lines of an event this library does not know (a newer
 * launcher) are skipped; a line that is not JSON is a setup failure.
 */

import type { Socket } from 'node:net';
import { SandboxError } from '../errors';
import type { Plan } from '../plan-types';
import type { Report } from '../report-types';

/** A report line as a {@link Report}; `undefined` for an event this library does not know. Throws `E_SETUP` for a line that is not JSON. */
export function parseReport(text: string): Report | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SandboxError('E_SETUP', `unreadable report from sandboxctl-init: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const line = value as Record<string, unknown> | null;
  if (typeof line !== 'object' || line === null || typeof line.event !== 'string') return undefined;
  switch (line.event) {
    case 'error':
      return typeof line.code === 'string' ? ({ ...line, message: typeof line.message === 'string' ? line.message : '' } as Report) : undefined;
    case 'spawned':
      return typeof line.pid === 'number' ? (line as unknown as Report) : undefined;
    case 'started':
      return { event: 'started' };
    case 'audit':
      return Array.isArray(line.findings) ? (line as unknown as Report) : undefined;
    case 'limithit':
      return typeof line.limit === 'string' ? (line as unknown as Report) : undefined;
    case 'denied':
      return typeof line.kind === 'string' ? (line as unknown as Report) : undefined;
    case 'ready':
      return typeof line.name === 'string' && typeof line.pid === 'number' && typeof line.socket === 'string' ? (line as unknown as Report) : undefined;
    default:
      return undefined;
  }
}

/** Receives what the launcher reports, in order. */
export interface ReportHandler {
  report(report: Report): void;
  /** A line that was not JSON. */
  unreadable(error: SandboxError): void;
}

/** The caller's end of the report channel. */
export class ReportChannel {
  #pending = '';

  constructor(
    readonly socket: Socket,
    private readonly handler: ReportHandler,
  ) {
    // EPIPE/ECONNRESET when the launcher died early: its exit status says why.
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#pending += chunk;
      let newline: number;
      while ((newline = this.#pending.indexOf('\n')) !== -1) {
        const text = this.#pending.slice(0, newline);
        this.#pending = this.#pending.slice(newline + 1);
        this.#line(text);
      }
    });
  }

  /** Sends the plan and closes our writing side: the launcher reads to the end. */
  sendPlan(plan: Plan): void {
    this.socket.end(`${JSON.stringify(plan)}\n`);
  }

  /** Reads a last line that came without its newline. */
  flush(): void {
    const text = this.#pending;
    this.#pending = '';
    this.#line(text);
  }

  /** True once nothing more can be read. */
  get done(): boolean {
    return this.socket.destroyed || this.socket.readableEnded;
  }

  #line(raw: string): void {
    const text = raw.trim();
    if (text === '') return;
    let report: Report | undefined;
    try {
      report = parseReport(text);
    } catch (error) {
      this.handler.unreadable(error as SandboxError);
      return;
    }
    if (report) this.handler.report(report);
  }
}
