import type { ReloadResult } from '../../application.js';

// What the cluster primary and its workers say to each other over IPC. The
// `hostmux` key keeps them apart from messages a site module might send.

/** Primary → worker. */
export type ToWorker =
  | { readonly hostmux: 'reload'; readonly id: number }
  | { readonly hostmux: 'stop' }
  | { readonly hostmux: 'cut' };

/** Worker → primary. */
export type FromWorker =
  | { readonly hostmux: 'reloaded'; readonly id: number; readonly result: ReloadResult }
  | { readonly hostmux: 'reload-failed'; readonly id: number; readonly message: string }
  /** The worker listens for messages now: the primary holds back what it would send until then. */
  | { readonly hostmux: 'ready' }
  /** The worker cannot serve (configuration error, listen error) and is exiting. */
  | { readonly hostmux: 'failed'; readonly message: string };

export function isFromWorker(message: unknown): message is FromWorker {
  return typeof message === 'object' && message !== null && typeof (message as { hostmux?: unknown }).hostmux === 'string';
}

export function isToWorker(message: unknown): message is ToWorker {
  return isFromWorker(message);
}
