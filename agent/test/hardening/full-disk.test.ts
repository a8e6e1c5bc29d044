import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmdirSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { requireBinary, type Teardowns } from '../helpers/system.js'
import { figures, readAuditChain, startPackedAgent } from './harness.js'

/**
 * The agent's data on a tmpfs of 1 MiB that the test fills up. Mounting needs root (CI runs as
 * root); without it the test fails and says so: it never skips.
 */
function smallDisk(t: Teardowns): string {
  const mountpoint = mkdtempSync(join(tmpdir(), 'hardening-disk-'))
  try {
    execFileSync(requireBinary('mount'), ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mountpoint], { stdio: 'pipe' })
  } catch (err) {
    rmdirSync(mountpoint)
    const why = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message
    throw new Error(`cannot mount a 1 MiB tmpfs for the full-disk case (needs root, as in CI; uid ${process.getuid?.()}): ${why}`)
  }
  t.teardown(() => {
    // Lazy: the agent may still hold its audit file open while teardowns run.
    execFileSync(requireBinary('umount'), ['-l', mountpoint])
    rmdirSync(mountpoint)
  })
  return mountpoint
}

/** Writes until the disk takes nothing more, down to single bytes; returns what was written. */
function fillDisk(path: string, flag = 'w'): number {
  const fd = openSync(path, flag)
  let written = 0
  try {
    for (const size of [65536, 4096, 512, 64, 1]) {
      const chunk = Buffer.alloc(size, 0x61)
      for (;;) {
        try {
          written += writeSync(fd, chunk)
        } catch {
          break
        }
      }
    }
  } finally {
    closeSync(fd)
  }
  return written
}

/** Blank lines into the audit log until its last block is full. */
function fillAuditBlock(path: string): number {
  const fd = openSync(path, 'a')
  let written = 0
  try {
    for (;;) written += writeSync(fd, '\n')
  } catch {
    return written
  } finally {
    closeSync(fd)
  }
}

/**
 * Two ways a disk is full for the agent: no block left for a new file (the state file's temp
 * file) while the audit log's last block still has room, and no room at all, the audit log's
 * last block filled too (with blank lines, which a JSON-lines reader skips).
 */
for (const auditFull of [false, true]) {
  t.test(
    `a full disk${auditFull ? ', the audit log full too' : ''}: a change that cannot be written is refused, and status, file, answer and audit agree`,
    async (t) => {
      const dir = smallDisk(t)
      const agent = await startPackedAgent(t, dir)
      t.equal((await agent.admin('PUT', '/v1/state', { state: 'drain', reason: 'r1 before the disk filled' })).status, 200)
      const filler = join(dir, 'filler')
      let filled = fillDisk(filler)
      if (auditFull) filled += fillAuditBlock(join(dir, 'audit.log'))

      const refused: Array<{ asked: string; status: number; body: string }> = []
      for (const [state, reason] of [
        ['down', 'r2 while full'],
        ['ready', 'r3 while full'],
        ['down', 'r4 while full'],
      ] as const) {
        const answer = await agent.admin('PUT', '/v1/state', { state, reason })
        refused.push({ asked: state, status: answer.status, body: answer.body.slice(0, 200) })
      }
      const status = await agent.status()
      const check = await agent.check()
      const file = readFileSync(join(dir, 'state'), 'utf8').split(' ')[0]
      const metrics = (await fetch(`${agent.healthUrl}/metrics`).then((r) => r.text()))
        .split('\n')
        .filter((l) => /^health_agent_state_file_(ok|errors_total)/.test(l))

      rmSync(filler)
      const backAnswer = await agent.admin('PUT', '/v1/state', { state: 'ready', reason: 'r5 after space came back' })
      const statusAfter = await agent.status()
      const checkAfter = await agent.check()
      const chain = readAuditChain(join(dir, 'audit.log'))
      figures(t, `full disk${auditFull ? ', audit full too' : ''}`, {
        filledBytes: filled,
        refused: refused.map((r) => `${r.asked}: ${r.status}`),
        whileFull: { status: status.admin?.state, file, check: check.status, problem: status.stateFile.problem?.kind ?? null, metrics },
        afterSpace: {
          put: backAnswer.status,
          status: statusAfter.admin?.state,
          check: checkAfter.status,
          problem: statusAfter.stateFile.problem?.kind ?? null,
        },
        audit: { entries: chain.entries.map((e) => `${e.from}->${e.to}`), torn: chain.torn, breaks: chain.breaks },
      })

      t.ok(
        refused.every((r) => r.status === 500 && /AGENT_ERR_STATE_FILE/.test(r.body)),
        'every change is refused with AGENT_ERR_STATE_FILE',
      )
      t.same(
        { status: status.admin?.state, file, check: check.status },
        { status: 'drain', file: 'drain', check: 404 },
        'status, file and answer agree on the old state',
      )
      t.equal(status.stateFile.problem?.kind, 'write-failed', 'the status says why')
      t.ok(metrics.includes('health_agent_state_file_ok 0'), 'and the metrics')
      t.same(
        { put: backAnswer.status, status: statusAfter.admin?.state, check: checkAfter.status, problem: statusAfter.stateFile.problem },
        { put: 200, status: 'ready', check: 200, problem: null },
        'the next change after space comes back goes through and clears the problem',
      )
      t.same(
        chain.entries.map((e) => `${e.from}->${e.to}`),
        ['null->ready', 'ready->drain', 'drain->ready'],
        'the audit holds only what the file held',
      )
      t.same(chain.breaks, [], 'and its chain has no break')
    },
  )
}
