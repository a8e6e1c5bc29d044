/*
 * The status page: one HTML document, one style sheet, one script, all served by the agent
 * (no framework, no build step, nothing from outside). The script builds every element with
 * textContent: names and texts come from load balancers' headers and files, never as HTML.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>health agent</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/status/page.css">
<script src="/status/page.js" defer></script>
</head>
<body>
<header id="banner" class="state-unknown">
  <div id="state">…</div>
  <div id="answer"></div>
  <div id="why"></div>
</header>
<main>
  <section id="admin-box"><h2>Admin state</h2><div id="admin"></div><div id="expiry"></div></section>
  <section id="goal-box"><h2>Load balancers</h2><div id="goal"></div>
    <table id="lbs"><thead><tr><th>load balancer</th><th>server</th><th>status</th><th>scur</th><th>qcur</th><th>weight</th><th>last check</th><th>confirms</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="tomcat-box"><h2>Tomcat</h2><div id="tomcat"></div><div id="warmup"></div></section>
  <section id="weight-box"><h2>Weight (agent check)</h2><div id="weight"></div></section>
  <section id="history-box"><h2>Recent changes</h2>
    <table id="history"><thead><tr><th>when</th><th>change</th><th>lasted</th><th>source</th><th class="full">who</th><th class="full">why</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<footer><span id="link">connecting…</span> · <span id="agent"></span> · read-only page</footer>
</body>
</html>
`

export const PAGE_CSS = `
:root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #f4f4f6; }
body { margin: 0; }
header { padding: 1.2rem 2rem; color: #fff; transition: background-color 0.2s; }
header.state-ready { background: #1f8f3a; }
header.state-drain { background: #d97a00; }
header.state-down { background: #c0262d; }
header.state-unknown { background: #6b6b75; }
#state { font-size: 5rem; font-weight: 800; letter-spacing: 0.05em; text-transform: uppercase; line-height: 1; }
#answer { font-size: 1.3rem; margin-top: 0.3rem; }
#why { font-size: 1.2rem; margin-top: 0.4rem; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(28rem, 1fr)); gap: 1rem; padding: 1rem 2rem; }
section { background: #fff; border-radius: 6px; padding: 0.8rem 1rem; box-shadow: 0 1px 2px rgba(0,0,0,0.1); }
#goal-box, #history-box { grid-column: 1 / -1; }
h2 { font-size: 1rem; margin: 0 0 0.5rem; color: #555; text-transform: uppercase; letter-spacing: 0.05em; }
table { border-collapse: collapse; width: 100%; font-size: 0.95rem; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.stale td { color: #999; }
.ok { color: #1f8f3a; font-weight: 600; }
.no { color: #c0262d; }
.bar { height: 0.7rem; background: #e4e4ea; border-radius: 4px; overflow: hidden; margin: 0.3rem 0 0.6rem; }
.bar > div { height: 100%; background: #2f6fd6; transition: width 0.3s; }
.line { margin: 0.2rem 0; }
.label { display: inline-block; min-width: 6rem; color: #666; }
body.public .full { display: none; }
footer { padding: 0.5rem 2rem 1.5rem; color: #666; font-size: 0.9rem; }
#link.lost { color: #c0262d; font-weight: 600; }
`

export const PAGE_JS = `'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function secs(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 90) return s + ' s';
    if (s < 5400) return Math.round(s / 60) + ' min';
    if (s < 172800) return (s / 3600).toFixed(1) + ' h';
    return Math.round(s / 86400) + ' d';
  }
  function ago(iso, now) { return secs(now - Date.parse(iso)); }
  function bar(ratio) {
    var outer = el('div', null, 'bar');
    var inner = el('div');
    inner.style.width = Math.round(Math.min(1, Math.max(0, ratio)) * 100) + '%';
    outer.appendChild(inner);
    return outer;
  }
  function line(label, text) {
    var d = el('div', null, 'line');
    d.appendChild(el('span', label, 'label'));
    d.appendChild(document.createTextNode(' ' + text));
    return d;
  }
  function cell(row, text, cls) { row.appendChild(el('td', text, cls)); }

  function render(v) {
    var now = Date.parse(v.at);
    document.body.className = v.detail;
    var e = v.effective;
    $('banner').className = 'state-' + e.state;
    $('state').textContent = e.state;
    $('answer').textContent = 'answering HTTP ' + e.httpStatus + ' to the load balancers';
    $('why').textContent = e.why ? 'because ' + e.why : (v.admin && v.admin.state === e.state ? 'as the admin state says' : '');

    var admin = $('admin'); clear(admin);
    var expiry = $('expiry'); clear(expiry);
    if (v.admin) {
      admin.appendChild(line('state', v.admin.state + ' for ' + ago(v.admin.since, now) + ' (since ' + v.admin.since + ')'));
      if (v.detail === 'full') {
        admin.appendChild(line('by', v.admin.by || '-'));
        admin.appendChild(line('reason', v.admin.reason || '-'));
      }
      if (v.admin.until) {
        var total = Date.parse(v.admin.until) - Date.parse(v.admin.since);
        var left = Date.parse(v.admin.until) - now;
        expiry.appendChild(line('expires', left > 0 ? 'in ' + secs(left) + ' (' + v.admin.until + '), then ready' : 'due (' + v.admin.until + ')'));
        expiry.appendChild(bar(total > 0 ? 1 - left / total : 1));
      } else if (v.admin.state !== 'ready') {
        expiry.appendChild(line('expires', 'never: only an explicit ready ends it'));
      }
    } else {
      admin.appendChild(line('state', 'unknown: no valid state file read yet'));
    }
    if (!v.stateFile.ok) admin.appendChild(line('state file', 'PROBLEM: ' + v.stateFile.problem + ' (last good state kept)'));

    var goal = $('goal'); clear(goal);
    if (v.goal) {
      var g = v.goal;
      var head = g.goal + ': ' + (g.confirmed ? 'confirmed by every load balancer' : g.confirming + ' of ' + g.of + ' confirm') + ', ' + ago(g.since, now) + ' since it began';
      goal.appendChild(el('div', head, g.confirmed ? 'ok' : ''));
      goal.appendChild(bar(g.confirmed ? 1 : g.of > 0 ? g.confirming / g.of : 0));
      if (!g.confirmed && g.why) goal.appendChild(el('div', 'waiting for: ' + g.why, 'line'));
    }
    var body = document.querySelector('#lbs tbody'); clear(body);
    v.loadBalancers.forEach(function (lb) {
      var row = el('tr');
      row.className = lb.stale ? 'lb stale' : 'lb';
      row.setAttribute('data-lb', lb.lb);
      cell(row, lb.lb + (lb.expected ? ' (expected)' : ''));
      cell(row, lb.server || '-');
      cell(row, lb.status);
      cell(row, lb.scur === null ? '-' : lb.scur, 'num');
      cell(row, lb.qcur === null ? '-' : lb.qcur, 'num');
      cell(row, lb.weight || '-', 'num');
      cell(row, secs(lb.ageMs) + ' ago' + (lb.stale ? ' (stale)' : ''), 'num');
      cell(row, lb.confirmed ? 'yes' : 'no: ' + lb.why, lb.confirmed ? 'ok' : 'no');
      body.appendChild(row);
    });
    if (v.omitted > 0) {
      var more = el('tr');
      more.className = 'lb omitted';
      cell(more, 'and ' + v.omitted + ' more not shown');
      for (var j = 0; j < 7; j++) cell(more, '');
      body.appendChild(more);
    }
    v.missing.forEach(function (name) {
      if (v.loadBalancers.some(function (lb) { return lb.lb === name; })) return;
      var row = el('tr');
      row.className = 'lb missing';
      row.setAttribute('data-lb', name);
      cell(row, name + ' (expected)');
      cell(row, 'has not checked', 'no');
      for (var i = 0; i < 6; i++) cell(row, '');
      body.appendChild(row);
    });

    var tomcat = $('tomcat'); clear(tomcat);
    v.tomcat.forEach(function (t) { tomcat.appendChild(line(t.label, t.text)); });
    var warm = $('warmup'); clear(warm);
    if (v.warmup && v.warmup.total) {
      warm.appendChild(line('warm-up', v.warmup.phase + ': ' + v.warmup.done + ' of ' + v.warmup.total + ' requests, ' + v.warmup.failed + ' failed'));
      warm.appendChild(bar(v.warmup.done / v.warmup.total));
    }

    var weight = $('weight'); clear(weight);
    weight.appendChild(line('weight', v.weight.percent + '% (' + v.weight.source + ')'));
    if (v.weight.rampProgress !== null) weight.appendChild(bar(v.weight.rampProgress));

    var hist = document.querySelector('#history tbody'); clear(hist);
    v.history.slice().reverse().forEach(function (h) {
      var row = el('tr');
      cell(row, h.time);
      cell(row, (h.from || '-') + ' → ' + h.to + (h.until ? ' until ' + h.until : ''));
      cell(row, h.current ? secs(now - Date.parse(h.time)) + ' so far' : secs(h.durationMs), 'num');
      cell(row, h.source);
      cell(row, h.by === undefined ? '' : h.by || '-', 'full');
      cell(row, h.reason === undefined ? '' : h.reason || '-', 'full');
      hist.appendChild(row);
    });
    $('agent').textContent = v.agent.name + ' ' + v.agent.version + ', up ' + ago(v.agent.startedAt, now);
  }

  function connect() {
    var link = $('link');
    var source = new EventSource('/status/events');
    source.onopen = function () { link.textContent = 'live'; link.className = ''; };
    source.onmessage = function (m) { render(JSON.parse(m.data)); };
    source.onerror = function () { link.textContent = 'connection lost: retrying'; link.className = 'lost'; };
  }
  connect();
})();
`
