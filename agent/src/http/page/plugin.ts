import type { FastifyInstance, FastifyReply } from 'fastify'
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './assets.js'
import { PageFeed, type PageFeedDeps } from './feed.js'

export type StatusPageOptions = PageFeedDeps

/** Nothing from elsewhere, no inline code, no framing, no forms: the page can only read. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
}

function asset(reply: FastifyReply, type: string, body: string): FastifyReply {
  return reply.headers(SECURITY_HEADERS).header('content-type', `${type}; charset=utf-8`).send(body)
}

/**
 * The live status page, as a fastify plugin: `GET /status` (the page), its style sheet and script,
 * `/status/view` (the page's data as JSON) and `/status/events` (the same, pushed as server-sent
 * events). Read-only: it registers GET routes only and takes nothing but plain functions.
 */
export async function statusPage(app: FastifyInstance, options: StatusPageOptions): Promise<void> {
  const feed = new PageFeed(options)
  // Open event streams would hold the listener's close.
  app.addHook('preClose', async () => feed.close())

  app.get('/status', async (_, reply) => asset(reply, 'text/html', PAGE_HTML))
  app.get('/status/page.css', async (_, reply) => asset(reply, 'text/css', PAGE_CSS))
  app.get('/status/page.js', async (_, reply) => asset(reply, 'text/javascript', PAGE_JS))
  app.get('/status/view', async (_, reply) => reply.headers(SECURITY_HEADERS).send(await feed.snapshot()))
  app.get('/status/events', (_, reply) => {
    reply.hijack()
    if (!feed.add(reply.raw)) {
      reply.raw.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '10' })
      reply.raw.end('too many open status pages on this listener\n')
    }
  })
}
