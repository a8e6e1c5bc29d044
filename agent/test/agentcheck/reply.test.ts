import t from 'tap'
import { agentReply, MAX_DESCRIPTION, sanitizeDescription, wordFor, type ReplyInputs } from '../../src/agentcheck/reply.js'
import type { Verdict } from '../../src/state/effective.js'

type V = Pick<Verdict, 'state' | 'cause' | 'why'>
const ready: V = { state: 'ready', cause: 'admin', why: null }
const drain: V = { state: 'drain', cause: 'admin', why: null }
const adminDown: V = { state: 'down', cause: 'admin', why: null }
const noState: V = { state: 'down', cause: 'no-state', why: 'no valid admin state: the state file is empty' }
// Causes the Tomcat probe (issue 3) adds: the mapping must not need to know them.
const tomcatDown = { state: 'down', cause: 'tomcat-down', why: 'Tomcat refused 3 probes in a row' } as unknown as V
const warmingUp = { state: 'down', cause: 'warming-up', why: 'warm-up 1/3 passed' } as unknown as V

const cases: Array<[string, ReplyInputs, string]> = [
  ['ready at full weight', { verdict: ready, weightPercent: 100 }, 'ready up 100%\n'],
  ['ready during a ramp, with its note', { verdict: ready, weightPercent: 33, weightNote: 'ramp 1/4' }, 'ready up 33% #ramp 1/4\n'],
  ['ready ignores the admin reason', { verdict: ready, weightPercent: 100, adminReason: 'deploy done' }, 'ready up 100%\n'],
  ['drain carries the weight a return to ready starts at', { verdict: drain, weightPercent: 10 }, 'drain 10%\n'],
  ['drain with the operator reason', { verdict: drain, weightPercent: 10, adminReason: 'deploy v42' }, 'drain 10% #deploy v42\n'],
  ['admin down is maint', { verdict: adminDown, weightPercent: 10, adminReason: 'restarting tomcat' }, 'maint 10% #restarting tomcat\n'],
  [
    'no readable state is down, with why',
    { verdict: noState, weightPercent: 100 },
    'down 100% #no valid admin state: the state file is empty\n',
  ],
  [
    'Tomcat dead is down, not maint',
    { verdict: tomcatDown, weightPercent: 10, adminReason: 'ignored' },
    'down 10% #Tomcat refused 3 probes in a row\n',
  ],
  ['warming up is down', { verdict: warmingUp, weightPercent: 10 }, 'down 10% #warm-up 1/3 passed\n'],
  ['a weight out of range is clamped to what HAProxy 2.6 takes', { verdict: ready, weightPercent: 0 }, 'ready up 1%\n'],
  ['a fractional weight is rounded', { verdict: ready, weightPercent: 32.5 }, 'ready up 33%\n'],
  [
    'a reason with a line break stays on one line',
    { verdict: drain, weightPercent: 10, adminReason: 'deploy\nmaint' },
    'drain 10% #deploy maint\n',
  ],
  [
    'a # in the reason stays inside the description',
    { verdict: adminDown, weightPercent: 10, adminReason: 'ticket #42' },
    'maint 10% #ticket #42\n',
  ],
  ['a blank reason adds nothing', { verdict: drain, weightPercent: 10, adminReason: '  \t ' }, 'drain 10%\n'],
]

t.test('agent-check answers, by effective state and cause', async (t) => {
  for (const [name, inputs, line] of cases) {
    const reply = agentReply(inputs)
    t.equal(reply.line, line, name)
    t.equal(reply.line.indexOf('\n'), reply.line.length - 1, `${name}: exactly one line`)
    t.equal(reply.word, reply.line.split(' ')[0]?.trim(), `${name}: word is the first word`)
  }
})

t.test('the word depends on the state, and for down on whether an operator asked', async (t) => {
  t.equal(wordFor(ready), 'ready')
  t.equal(wordFor(drain), 'drain')
  t.equal(wordFor(adminDown), 'maint')
  t.equal(wordFor(noState), 'down')
  t.equal(wordFor(tomcatDown), 'down')
})

t.test('every answer parses the way HAProxy 2.6 parses it', async (t) => {
  // HAProxy: words split on space, tab or comma; a word starting with # begins the description.
  const known = /^(ready|drain|maint|up|down|\d{1,3}%)$/
  for (const [name, inputs] of cases) {
    const line = agentReply(inputs).line.replace(/[\r\n].*$/s, '')
    const words: string[] = []
    for (const word of line.split(/[ \t,]+/)) {
      if (word.startsWith('#')) break
      words.push(word)
    }
    t.ok(
      words.every((w) => known.test(w)),
      `${name}: only known words before # (${words.join(' ')})`,
    )
  }
})

t.test('descriptions are one printable ASCII line of bounded length', async (t) => {
  t.equal(sanitizeDescription('a\r\nb\tc\u0000d'), 'a b c?d')
  t.equal(sanitizeDescription('déploiement'), 'd?ploiement')
  t.equal(sanitizeDescription(null), '')
  const long = sanitizeDescription('x'.repeat(500))
  t.equal(long.length, MAX_DESCRIPTION)
  t.ok(long.endsWith('...'))
})
