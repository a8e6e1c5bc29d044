import { chromium, type BrowserContext } from 'playwright-core'
import { tempDir } from './agent.js'
import { requireBinary, type Teardowns } from './system.js'

/** Debian's Chromium, headless, with none of its own network traffic (this machine's network is closed). */
const BROWSER_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** A fresh profile each time (playwright passes it as --user-data-dir); closed at teardown. */
export async function openChromium(t: Teardowns, profilePrefix: string): Promise<BrowserContext> {
  const context = await chromium.launchPersistentContext(tempDir(t, profilePrefix), {
    executablePath: requireBinary('chromium'),
    headless: true,
    args: BROWSER_ARGS,
    timeout: 60_000,
  })
  t.teardown(() => context.close())
  return context
}
