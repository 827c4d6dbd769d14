/**
 * Progress of slow steps on stderr (stdout stays clean for scripts): nothing for a step that ends
 * quickly; otherwise a line that updates in place on a terminal, or one line at the start and one at
 * the end when stderr is a file or a pipe.
 */

/** How long a step runs before its progress shows (`XMTP_PROGRESS_DELAY_MS` overrides it). */
const DEFAULT_DELAY_MS = 500;

export interface Progress {
  /** Replaces the detail shown after the label, e.g. `12/40`. */
  update(detail: string): void;
  /** Ends the step; `summary` is shown when progress was shown at all. */
  done(summary?: string): void;
}

export function startProgress(label: string, out: NodeJS.WriteStream = process.stderr): Progress {
  const delay = Number(process.env.XMTP_PROGRESS_DELAY_MS ?? DEFAULT_DELAY_MS);
  const started = Date.now();
  const tty = out.isTTY === true;
  let detail = "";
  let shown = false;
  const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const draw = () => {
    if (tty) out.write(`\r\x1b[2K${label}… ${detail ? `${detail} ` : ""}(${seconds()})`);
    else if (!shown) out.write(`${label}…\n`);
    shown = true;
  };
  const show = setTimeout(draw, Number.isFinite(delay) ? delay : DEFAULT_DELAY_MS);
  // A terminal gets the elapsed time refreshed; neither timer keeps the process alive.
  const ticker = setInterval(() => shown && tty && draw(), 1000);
  show.unref();
  ticker.unref();
  return {
    update(d) {
      detail = d;
      if (shown && tty) draw();
    },
    done(summary) {
      clearTimeout(show);
      clearInterval(ticker);
      if (!shown) return;
      const end = `${label}: ${summary ?? "done"} (${seconds()})`;
      out.write(tty ? `\r\x1b[2K${end}\n` : `${end}\n`);
    },
  };
}

/** Runs `step` with progress shown while it is slow. */
export async function withProgress<T>(
  label: string,
  step: (p: Progress) => Promise<T>,
  summary?: (result: T) => string,
): Promise<T> {
  const p = startProgress(label);
  try {
    const result = await step(p);
    p.done(summary?.(result));
    return result;
  } catch (err) {
    p.done("failed");
    throw err;
  }
}
