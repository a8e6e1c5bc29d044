import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/agent.js'
import { requireBinary } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'
import { checkLatency, CHECK_TIMEOUT_MS, figures, startPackedAgent, waitForGoodState } from './harness.js'

/**
 * 50 MB written in 1 MiB pieces (the test never holds it) beside the state file, then renamed
 * over it: written in place, its first piece alone would be read as a good state.
 */
function writeBig(path: string, head: string, piece: string): void {
  const fd = openSync(`${path}.big`, 'w')
  try {
    writeSync(fd, head)
    const chunk = piece.repeat(Math.ceil((1024 * 1024) / piece.length))
    for (let i = 0; i < 50; i++) writeSync(fd, chunk)
  } finally {
    closeSync(fd)
  }
  renameSync(`${path}.big`, path)
}

/** Each way to put something hostile where the state file should be. */
const BAD_FILES: Record<string, (path: string) => void> = {
  fifo: (path) => execFileSync(requireBinary('mkfifo'), [path]),
  directory: (path) => mkdirSync(path),
  'symlink loop': (path) => {
    symlinkSync(`${path}.b`, path)
    symlinkSync(path, `${path}.b`)
  },
  '50 MB invalid': (path) => writeBig(path, '', 'x'),
  // One state line and 50 MB of comments: valid as a state file, and far too big to be one.
  '50 MB valid': (path) => writeBig(path, 'ready\n', '# padding padding padding padding\n'),
}

for (const [kind, make] of Object.entries(BAD_FILES)) {
  t.test(`a ${kind} in place of the state file: checks keep their answer and pace, memory stays flat`, async (t) => {
    const dir = tempDir(t, 'hardening-')
    const agent = await startPackedAgent(t, dir)
    t.equal((await agent.admin('PUT', '/v1/state', { state: 'drain', reason: 'before the bad file' })).status, 200)
    // As long as the bad file's phase: the heap grows with the check traffic itself, and RSS is
    // compared once it has, so that what is measured is what the file does.
    const baseline = await checkLatency(`${agent.healthUrl}/health`, 2500)
    const rssBefore = agent.rssMiB()

    const path = join(dir, 'state')
    rmSync(path)
    make(path)
    // Longer than HAProxy's check timeout, so that a hang shows as a timed-out check.
    const during = await checkLatency(`${agent.healthUrl}/health`, 2500)
    const statusDuring = await agent.admin('GET', '/v1/status')
    const problem =
      statusDuring.status === 200
        ? (JSON.parse(statusDuring.body) as { stateFile: { problem: { kind: string } | null } }).stateFile.problem
        : null

    rmSync(path, { recursive: true, force: true })
    rmSync(`${path}.b`, { force: true })
    writeFileSync(`${path}.new`, 'drain reason="good file again"\n')
    renameSync(`${path}.new`, path)
    let recovered = true
    try {
      await waitForGoodState(agent, 'drain', 10_000)
    } catch {
      recovered = false
    }
    const after = recovered ? await checkLatency(`${agent.healthUrl}/health`, 300) : null
    const rssAfter = agent.rssMiB()
    figures(t, `bad state file: ${kind}`, {
      baseline: { p50: baseline.p50, p99: baseline.p99 },
      during,
      problem: problem?.kind ?? (statusDuring.status === 200 ? null : `status answered ${statusDuring.status}: ${statusDuring.body}`),
      recovered,
      after: after && { p99: after.p99, statuses: after.statuses },
      rssMiB: { before: rssBefore, after: rssAfter },
    })

    t.equal(during.timeouts, 0, `no check went past ${CHECK_TIMEOUT_MS} ms`)
    t.same(Object.keys(during.statuses), ['404'], 'every check answered the last good state (drain, 404)')
    t.ok(during.p99 < 1000, `p99 ${during.p99} ms while the bad file was there`)
    t.ok(problem, 'the status names the problem')
    t.ok(recovered, 'a good file is read again')
    // What this guards against grows with the file (1.7 GiB for the 50 MB file before the bounded
    // read; a 50 MB file read whole is over 100 MiB of buffer and string); the check traffic alone
    // moves RSS by up to about 50 MiB here, GC timing being what it is.
    t.ok(rssAfter - rssBefore < 80, `RSS ${rssBefore} -> ${rssAfter} MiB`)
    await waitFor('the agent to be alive', async () => (await agent.check()).status === 404, { timeoutMs: 5000 })
  })
}
