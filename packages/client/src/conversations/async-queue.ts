/** A small push/pull queue that turns callbacks and several sources into one async iterator. */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((r: IteratorResult<T>) => void)[] = [];
  private failure: unknown;
  private closed = false;
  private readonly onClose: (() => void) | undefined;

  constructor(onClose?: () => void) {
    this.onClose = onClose;
  }

  push(item: T): void {
    if (this.closed) return;
    const w = this.waiters.shift();
    if (w) w({ value: item, done: false });
    else this.items.push(item);
  }

  /** Ends the iteration after the queued items; with `err`, the next pull rejects with it. */
  end(err?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    if (err !== undefined) this.failure = err;
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
    this.onClose?.();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.closed) {
      if (this.failure !== undefined) {
        const f = this.failure;
        this.failure = undefined;
        return Promise.reject(f);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * A queue for a stream that ends when the caller's `signal` aborts or the consumer calls
 * `return()`; `abort` is what the stream's sources listen to. Already ended if `signal` was
 * aborted before the call.
 */
export function abortableQueue<T>(signal: AbortSignal | undefined): {
  queue: AsyncQueue<T>;
  abort: AbortSignal;
} {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  const queue = new AsyncQueue<T>(() => {
    ac.abort();
    signal?.removeEventListener("abort", onAbort);
  });
  if (signal?.aborted) queue.end();
  else ac.signal.addEventListener("abort", () => queue.end(), { once: true });
  return { queue, abort: ac.signal };
}
