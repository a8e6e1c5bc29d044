import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { Agent as HttpAgent } from 'node:http'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { parseStateText } from '../../src/state/model.js'
import { tempDir } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'
import { figures, readAuditChain, startPackedAgent, timedRequest, waitForGoodState } from './harness.js'

const STATES = ['drain', 'down', 'ready'] as const

t.test('200 concurrent API changes and 50 shell writes: each change audited once, the chain unbroken', async (t) => {
  const dir = tempDir(t, 'hardening-')
  const agent = await startPackedAgent(t, dir)
  const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 50 })
  t.teardown(() => keepAlive.destroy())
  const rounds: Array<{ round: number; entries: number; breaks: number; repeated: string[] }> = []
  for (let round = 0; round < 2; round++) {
    const puts = Array.from({ length: 200 }, (_, i) =>
      timedRequest(`${agent.process.adminUrl}/v1/state`, {
        method: 'PUT',
        timeoutMs: 30_000,
        agent: keepAlive,
        headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ state: STATES[i % 3], reason: `api-${round}-${i}` }),
      }),
    )
    const path = join(dir, 'state')
    for (let i = 0; i < 50; i++) {
      if (i % 2 === 0) writeFileSync(path, `${STATES[(i + 1) % 3]} reason=shell-${round}-${i}\n`)
      else {
        writeFileSync(`${path}.new`, `${STATES[(i + 2) % 3]} reason=shell-${round}-${i}\n`)
        renameSync(`${path}.new`, path)
      }
      await delay(2)
    }
    const answers = await Promise.all(puts)
    t.same(
      answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.body}`),
      [],
      `round ${round}: every PUT answered 200`,
    )
    writeFileSync(path, `ready reason=end-${round}\n`)
    await waitFor(`round ${round}'s last write`, async () => (await agent.status()).admin?.reason === `end-${round}`, { timeoutMs: 15_000 })
    const chain = readAuditChain(join(dir, 'audit.log'))
    rounds.push({ round, entries: chain.entries.length, breaks: chain.breaks.length, repeated: chain.repeated })
  }
  const chain = readAuditChain(join(dir, 'audit.log'))
  figures(t, 'concurrent writers', { rounds, breaks: chain.breaks.slice(0, 5), torn: chain.torn })
  t.same(chain.repeated, [], 'no change audited twice')
  t.same(chain.breaks, [], 'every entry starts where the one before ended')
  t.equal(chain.torn, 0)
})

t.test('kill -9 during bursts of writes: never a torn or empty state file, and no temp file left after a restart', async (t) => {
  const dir = tempDir(t, 'hardening-')
  const results: Array<{ kill: number; file: string; tempFilesAtKill: number; tempFilesAfterRestart: number }> = []
  for (let kill = 0; kill < 6; kill++) {
    const agent = await startPackedAgent(t, dir)
    const burst = Array.from({ length: 60 }, (_, i) =>
      agent.admin('PUT', '/v1/state', { state: STATES[i % 3], reason: `kill-${kill}-${i}` }),
    )
    await delay(5 + kill * 7)
    await agent.process.stop('SIGKILL')
    await Promise.all(burst)
    const text = existsSync(join(dir, 'state')) ? readFileSync(join(dir, 'state'), 'utf8') : ''
    const temps = () => readdirSync(dir).filter((n) => n.endsWith('.tmp')).length
    const tempFilesAtKill = temps()
    const parsed = parseStateText(text)
    const restarted = await startPackedAgent(t, dir)
    if (parsed.ok) await waitForGoodState(restarted, parsed.record.state)
    results.push({
      kill,
      file: parsed.ok ? parsed.record.state : `BAD ${JSON.stringify(text.slice(0, 40))}`,
      tempFilesAtKill,
      tempFilesAfterRestart: temps(),
    })
    await restarted.process.stop('SIGTERM')
  }
  figures(t, 'kill -9 during writes', { results })
  t.ok(
    results.every((r) => !r.file.startsWith('BAD')),
    'the state file always parsed',
  )
  t.ok(
    results.every((r) => r.tempFilesAfterRestart === 0),
    'a restart removes the temp files a kill left',
  )
  const chain = readAuditChain(join(dir, 'audit.log'))
  t.equal(chain.torn, 0, 'no torn audit line')
})
