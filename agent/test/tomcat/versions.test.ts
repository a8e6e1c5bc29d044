import t from 'tap'
import {
  compareVersions,
  contextPathProblem,
  orderProblem,
  parseListText,
  roleOf,
  takerOf,
  timeVersion,
  versionProblem,
  versionsOf,
} from '../../src/tomcat/versions.js'

/** The shape of Tomcat 10.1's `/manager/text/list` (ManagerServlet.list), with parallel deployment. */
const LIST = [
  'OK - Listed applications for virtual host [localhost]',
  '/manager:running:0:manager',
  '/app:running:3:app##002',
  '/app:running:0:app##010',
  '/app:stopped:0:app##011',
  '/:running:1:ROOT',
  '/shop/eu:running:2:/srv/wars/shop#eu##7.war',
  '',
].join('\n')

t.test('reads every version of every context from the list, oldest first per context', async (t) => {
  const all = parseListText(LIST)
  t.same(
    versionsOf(all, '/app').map((v) => [v.version, v.status, v.sessions]),
    [
      ['002', 'running', 3],
      ['010', 'running', 0],
      ['011', 'stopped', 0],
    ],
  )
  t.same(versionsOf(all, '/'), [{ path: '/', status: 'running', sessions: 1, version: '' }])
  t.same(versionsOf(all, '/shop/eu')[0]?.version, '7')
  t.throws(() => parseListText('FAIL - Encountered exception\n'), /manager answered: FAIL - Encountered exception/)
})

t.test('the newest running version takes new sessions; a stopped one (starting, or failed) takes none', async (t) => {
  const app = versionsOf(parseListText(LIST), '/app')
  t.equal(takerOf(app)?.version, '010')
  t.same(
    app.map((v) => roleOf(app, v)),
    ['old', 'new', 'stopped'],
  )
  t.equal(takerOf([]), null)
})

t.test('versions sort as Tomcat sorts them: as text', async (t) => {
  t.ok(compareVersions('10', '9') < 0, '"10" before "9"')
  t.ok(compareVersions('010', '009') > 0)
  t.equal(orderProblem('003', ['001', '002']), null)
  t.match(
    orderProblem('10', ['9']),
    /version "10" sorts before the deployed "9" \(Tomcat compares versions as text\).*zero-pad numbers to one width from the first version on \(such as 009, then 010\)/,
  )
  t.match(orderProblem('002', ['002']), /version "002" is already deployed/)
  t.match(orderProblem('a', ['b']), /sorts before the deployed "b"/)
  t.notMatch(orderProblem('a', ['b']) ?? '', /zero-pad/)
  const earlier = timeVersion(new Date('2026-12-07T09:59:59.999Z'))
  const later = timeVersion(new Date('2026-12-07T10:00:00.000Z'))
  t.equal(earlier, '20261207T095959')
  t.ok(compareVersions(earlier, later) < 0, 'time versions sort in time order')
})

t.test('contexts and versions Tomcat would refuse or misread get one clear line', async (t) => {
  for (const good of ['/', '/app', '/shop/eu', '/a_b-c.d']) t.equal(contextPathProblem(good), null, good)
  t.match(contextPathProblem('app'), /starting with \//)
  t.match(contextPathProblem('/a/../b'), /has a "\.\." segment/)
  t.match(contextPathProblem('/.'), /has a "\." segment/)
  t.match(contextPathProblem('/app##2'), /letters, digits/)
  t.match(contextPathProblem('/a b'), /letters, digits/)
  t.match(contextPathProblem('/app/'), /letters, digits/)
  for (const good of ['001', '1.2.3', '20261207T180000', 'v2_rc-1']) t.equal(versionProblem(good), null, good)
  t.match(versionProblem(''), /got an empty one/)
  t.match(versionProblem('1#2'), /letters, digits/)
  t.match(versionProblem('1/2'), /letters, digits/)
  t.match(versionProblem('x'.repeat(65)), /at most 64 characters/)
})
