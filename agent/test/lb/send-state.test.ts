import t from 'tap'
import { formatServerState, LB_STATUSES, MAX_HEADER_LENGTH, parseServerState, type ServerState } from '../../src/lb/send-state.js'

const base = { address: '127.0.0.1', port: '18082', name: 'be/t2', node: 'lb1', qcur: 0, throttle: null, counts: null }

// Every form HAPROXY.md lists, as HAProxy 2.6.12 sent them, and what they must give.
const ACCEPTED: Array<[string, string, Partial<ServerState>]> = [
  [
    'UP with counts of sessions',
    'UP; address=127.0.0.1; port=18082; name=be/t2; node=lb1; weight=1/3; scur=10/30; qcur=0',
    { ...base, status: 'UP', weight: { server: 1, farm: 3 }, scur: { server: 10, backend: 30 } },
  ],
  [
    'NOLB drained',
    'NOLB; address=127.0.0.1; port=18081; name=be/t1; node=lb1; weight=1/2; scur=0/0; qcur=0',
    { ...base, port: '18081', name: 'be/t1', status: 'NOLB', weight: { server: 1, farm: 2 }, scur: { server: 0, backend: 0 } },
  ],
  [
    'UP going down',
    'UP 2/3; address=127.0.0.1; port=18082; name=be/t2; node=lb1; weight=1/3; scur=0/0; qcur=0',
    { status: 'UP', counts: { current: 2, total: 3 } },
  ],
  [
    'DOWN going up',
    'DOWN 1/2; address=127.0.0.1; port=18082; name=be/t2; node=lb1; weight=1/0; scur=0/0; qcur=0',
    { status: 'DOWN', counts: { current: 1, total: 2 } },
  ],
  [
    'DOWN settled',
    'DOWN; address=127.0.0.1; port=18082; name=be/t2; node=lb1; weight=1/0; scur=1/1; qcur=0',
    { status: 'DOWN', counts: null, scur: { server: 1, backend: 1 } },
  ],
  [
    'a count above its total',
    'DOWN 4/2; address=127.0.0.1; port=18082; name=be/t2; node=lb1; weight=1/0; scur=0/0; qcur=0',
    { status: 'DOWN', counts: { current: 4, total: 2 } },
  ],
  ['no check', 'no check; address=127.0.0.1; port=18082; name=be/t2; node=lb1; weight=1/1; scur=0/0; qcur=0', { status: 'no check' }],
  [
    'empty port (unix socket)',
    'UP; address=/run/t.sock; port=; name=be/t2; node=lb1; weight=1/1; scur=0/0; qcur=0',
    { address: '/run/t.sock', port: '' },
  ],
  [
    'throttle during slowstart',
    'UP; address=127.0.0.1; port=18082; name=be/t2; node=lb1; weight=1/3; scur=0/0; qcur=0; throttle=10%',
    { status: 'UP', throttle: 10 },
  ],
  [
    'NOLB with counts, queue and throttle',
    'NOLB 1/3; address=10.0.0.11; port=8080; name=tomcats/web1; node=haproxy-a.example; weight=0/0; scur=3/7; qcur=2; throttle=50%',
    {
      status: 'NOLB',
      counts: { current: 1, total: 3 },
      node: 'haproxy-a.example',
      name: 'tomcats/web1',
      qcur: 2,
      throttle: 50,
      scur: { server: 3, backend: 7 },
    },
  ],
  [
    'weight 0 (set weight 0 shows UP)',
    'UP; address=127.0.0.1; port=1; name=be/s; node=n; weight=0/2; scur=0/0; qcur=0',
    { weight: { server: 0, farm: 2 } },
  ],
  ['IPv6 server address', 'UP; address=::1; port=8080; name=be/s; node=n; weight=1/1; scur=0/0; qcur=0', { address: '::1' }],
]

t.test('accepts every observed form of the header', async (t) => {
  for (const [what, header, expected] of ACCEPTED) {
    const parsed = parseServerState(header)
    t.match(parsed, expected, what)
    t.equal(formatServerState(parsed as ServerState), header, `${what}: formats back to the same header`)
  }
})

const REJECTED: Array<[string, unknown]> = [
  ['empty', ''],
  ['not a string', 42],
  ['undefined', undefined],
  ['lower-case status', 'up; address=127.0.0.1; port=1; name=be/s; node=n; weight=1/1; scur=0/0; qcur=0'],
  ['unknown status', 'MAINT; address=127.0.0.1; port=1; name=be/s; node=n; weight=1/1; scur=0/0; qcur=0'],
  ['a field missing', 'UP; address=127.0.0.1; port=1; name=be/s; node=n; weight=1/1; scur=0/0'],
  ['fields out of order', 'UP; port=1; address=127.0.0.1; name=be/s; node=n; weight=1/1; scur=0/0; qcur=0'],
  ['a negative count', 'UP; address=127.0.0.1; port=1; name=be/s; node=n; weight=1/1; scur=-1/0; qcur=0'],
  ['a half count', 'UP 2; address=127.0.0.1; port=1; name=be/s; node=n; weight=1/1; scur=0/0; qcur=0'],
  ['no node', 'UP; address=127.0.0.1; port=1; name=be/s; node=; weight=1/1; scur=0/0; qcur=0'],
  ['no name', 'UP; address=127.0.0.1; port=1; name=; node=n; weight=1/1; scur=0/0; qcur=0'],
  ['trailing junk', 'UP; address=127.0.0.1; port=1; name=be/s; node=n; weight=1/1; scur=0/0; qcur=0; extra=1'],
  ['throttle without %', 'UP; address=127.0.0.1; port=1; name=be/s; node=n; weight=1/1; scur=0/0; qcur=0; throttle=10'],
  ['a number too long to be exact', 'UP; address=127.0.0.1; port=1; name=be/s; node=n; weight=1/1; scur=12345678901234567890/0; qcur=0'],
  [
    'over the length limit',
    `UP; address=127.0.0.1; port=1; name=be/s; node=${'n'.repeat(MAX_HEADER_LENGTH)}; weight=1/1; scur=0/0; qcur=0`,
  ],
  [
    'two headers joined',
    'UP; address=a; port=1; name=be/s; node=n; weight=1/1; scur=0/0; qcur=0, UP; address=a; port=1; name=be/s; node=n; weight=1/1; scur=0/0; qcur=0',
  ],
]

t.test('refuses junk without throwing', async (t) => {
  for (const [what, header] of REJECTED) t.equal(parseServerState(header), null, what)
})

/** A small seeded generator, so that a failing fuzz case can be replayed from the seed it prints. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

// The regex in HAPROXY.md, as the oracle for which strings are send-state headers.
const DOC_REGEX =
  /^(UP|DOWN|NOLB|no check)(?: (\d+)\/(\d+))?; address=([^;]*); port=([^;]*); name=([^;]*); node=([^;]*); weight=(\d+)\/(\d+); scur=(\d+)\/(\d+); qcur=(\d+)(?:; throttle=(\d+)%)?$/

function consistent(parsed: ServerState): string | null {
  if (!(LB_STATUSES as readonly string[]).includes(parsed.status)) return `status ${parsed.status}`
  const numbers = [parsed.weight.server, parsed.weight.farm, parsed.scur.server, parsed.scur.backend, parsed.qcur]
  if (parsed.counts) numbers.push(parsed.counts.current, parsed.counts.total)
  if (parsed.throttle !== null) numbers.push(parsed.throttle)
  if (!numbers.every((n) => Number.isSafeInteger(n) && n >= 0)) return `numbers ${numbers.join(',')}`
  for (const text of [parsed.address, parsed.port, parsed.name, parsed.node]) if (text.includes(';')) return `a ; in ${text}`
  if (!parsed.name || !parsed.node) return 'empty name or node'
  return null
}

t.test('fuzz: mutated and generated headers never throw, and what is accepted is consistent', async (t) => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261126)
  const random = prng(seed)
  const int = (n: number) => Math.floor(random() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T
  const alphabet = [
    'U',
    'P',
    'D',
    'O',
    'W',
    'N',
    'L',
    'B',
    ';',
    ' ',
    '=',
    '/',
    '%',
    '0',
    '1',
    '9',
    '-',
    'a',
    'é',
    '\u0000',
    '\t',
    'scur=',
    'qcur=',
    '; throttle=',
    'node=',
  ]
  const seeds = [...ACCEPTED.map(([, header]) => header), ...REJECTED.map(([, h]) => h).filter((h): h is string => typeof h === 'string')]

  const mutate = (input: string): string => {
    let s = input
    for (let n = 1 + int(4); n > 0; n--) {
      const at = int(s.length + 1)
      switch (int(7)) {
        case 0:
          s = s.slice(0, at) + pick(alphabet) + s.slice(at)
          break // insert
        case 1:
          s = s.slice(0, at) + s.slice(at + 1 + int(3))
          break // delete
        case 2:
          s = s.slice(0, at) + pick(alphabet) + s.slice(at + 1)
          break // replace
        case 3:
          s = s.slice(0, at)
          break // truncate
        case 4:
          s = s.replace(/\d+/, String(int(3) === 0 ? 10 ** int(25) : int(1000)))
          break // renumber
        case 5: {
          const parts = s.split('; ')
          const i = int(parts.length)
          const j = int(parts.length)
          ;[parts[i], parts[j]] = [parts[j] as string, parts[i] as string]
          s = parts.join('; ')
          break
        } // swap fields
        default:
          s = s + s.slice(int(s.length))
          break // duplicate a tail
      }
    }
    return s
  }

  const generate = (): string => {
    const status = pick(['UP', 'DOWN', 'NOLB', 'no check'])
    const counts = random() < 0.4 ? ` ${int(10)}/${1 + int(5)}` : ''
    const port = random() < 0.2 ? '' : String(int(65536))
    const throttle = random() < 0.2 ? `; throttle=${int(101)}%` : ''
    const word = () => Array.from({ length: 1 + int(12) }, () => pick('abcXYZ09-_.:/'.split(''))).join('')
    return `${status}${counts}; address=${word()}; port=${port}; name=${word()}/${word()}; node=${word()}; weight=${int(257)}/${int(1000)}; scur=${int(5000)}/${int(9000)}; qcur=${int(100)}${throttle}`
  }

  let accepted = 0
  let generated = 0
  const failures: string[] = []
  const ITERATIONS = 20_000
  for (let i = 0; i < ITERATIONS && failures.length < 5; i++) {
    const fromGenerator = i % 4 === 0
    const input = fromGenerator ? generate() : mutate(pick(seeds))
    let parsed: ServerState | null
    try {
      parsed = parseServerState(input)
    } catch (err) {
      failures.push(`threw ${(err as Error).message} on ${JSON.stringify(input)}`)
      continue
    }
    const doc = DOC_REGEX.exec(input)
    if (parsed === null) {
      // Refusing a string the doc regex matches is allowed only for the documented extra limits.
      const limits = input.length > MAX_HEADER_LENGTH || !doc?.[6] || !doc[7] || /\d{16}/.test(input)
      if (doc && !limits) failures.push(`refused a header the HAPROXY.md regex accepts: ${JSON.stringify(input)}`)
      if (fromGenerator) failures.push(`refused a generated header: ${JSON.stringify(input)}`)
      continue
    }
    accepted++
    if (!doc) failures.push(`accepted what the HAPROXY.md regex refuses: ${JSON.stringify(input)}`)
    const problem = consistent(parsed)
    if (problem) failures.push(`inconsistent (${problem}): ${JSON.stringify(input)}`)
    const again = parseServerState(formatServerState(parsed))
    if (JSON.stringify(again) !== JSON.stringify(parsed)) failures.push(`does not round-trip: ${JSON.stringify(input)}`)
    if (fromGenerator) {
      generated++
      if (formatServerState(parsed) !== input) failures.push(`generated header formats differently: ${JSON.stringify(input)}`)
    }
  }
  t.same(failures, [], `seed ${seed} (FUZZ_SEED=${seed} replays it)`)
  t.ok(accepted > ITERATIONS / 4, `a fair share was accepted (${accepted} of ${ITERATIONS}, ${generated} generated)`)
  t.ok(accepted < ITERATIONS, 'and a fair share refused')
})
