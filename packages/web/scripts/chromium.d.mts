import type { BrowserContext, Page } from "playwright-core";

/** Debian's Chromium, or `CHROMIUM_PATH`. */
export const CHROMIUM: string;
/** The flags every headless run of the project uses. */
export const CHROMIUM_ARGS: string[];
/** A headless Chromium with its own profile in `dir`. */
export function launchProfile(
  dir: string,
  viewport: { width: number; height: number },
): Promise<{ context: BrowserContext; page: Page }>;
