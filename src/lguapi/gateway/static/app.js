/* lguapi wallboard: extension tiles and per-domain counters, fed by the gateway's REST routes
 * and its Server-Sent Events feed. Plain browser JavaScript, no build step, no dependencies.
 *
 * Data flow: GET /v1/extensions (the tiles) + GET /v1/snapshot (counters, live calls, feed
 * position) -> EventSource /v1/events?since=<last id> (kinds call, extension). Changes are
 * queued and applied once per animation frame, touching only the tiles that changed, so
 * thousands of extensions stay smooth. A `gap` message or a reconnect after the gateway
 * restarted triggers a fresh snapshot; events that arrive meanwhile are replayed on top of it.
 * `?access_token=` in the page URL is passed on; `?domain=` shows one domain; `?lang=ko`.
 */
(function () {
  "use strict";

  var LABELS = {
    en: {
      title: "Wallboard", domain: "Domain", online: "Online", ringing: "Ringing", talking: "Talking",
      answered: "Answered", missed: "Missed", abandoned: "Abandoned", avg_ring: "Avg ring",
      avg_talk: "Avg talk", empty: "No extensions", total: "Total",
      state_offline: "Offline", state_idle: "Idle", state_ringing: "Ringing", state_talking: "Talking",
      state_held: "On hold",
      connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", denied: "Access denied (token?)",
      extensions: "extensions", events: "events", lang: "한국어"
    },
    ko: {
      title: "상황판", domain: "도메인", online: "로그인", ringing: "울림", talking: "통화 중",
      answered: "응답", missed: "부재중", abandoned: "포기", avg_ring: "평균 울림", avg_talk: "평균 통화",
      empty: "내선이 없습니다", total: "전체",
      state_offline: "오프라인", state_idle: "대기", state_ringing: "울림", state_talking: "통화 중",
      state_held: "보류",
      connecting: "연결 중…", live: "실시간", reconnecting: "다시 연결 중…", denied: "접근 거부 (토큰 확인)",
      extensions: "내선", events: "이벤트", lang: "English"
    }
  };
  var STATES = ["offline", "idle", "ringing", "talking", "held"];
  var RECONNECT_MIN_MS = 1000, RECONNECT_MAX_MS = 15000, COUNTERS_EVERY_MS = 2000, MAX_COUNTERS_GAP_MS = 10000;
  var DENSE_FROM = 500;       // from this many tiles on, smaller tiles (class "dense")

  var params = new URLSearchParams(window.location.search);
  var token = params.get("access_token");
  var domainFilter = params.get("domain");
  var lang = params.get("lang") || safeGet("lguapi.lang") || "en";
  if (!LABELS[lang]) lang = "en";

  var tiles = new Map();      // exten -> tile record
  var calls = new Map();      // call id -> call dict (live calls only)
  var dirty = new Set();      // tiles to redraw at the next frame
  var ticking = new Set();    // tiles showing a running duration
  var frameQueued = false;
  var denied = false;          // the last REST answer was 401/403
  var es = null, lastId = 0, syncing = false, held = [], reconnectMs = RECONNECT_MIN_MS, interrupted = false;
  var clockOffset = 0;        // server time - browser time, seconds
  var countersTimer = null, countersDirty = false, eventsSeen = 0;
  var stats = { ready: false, tiles: 0, renderMs: null, snapshots: 0, connected: false, lastId: 0, gaps: 0 };
  window.wallboard = stats;   // read by the browser tests

  var $tiles = document.getElementById("tiles");
  var $counters = document.querySelector("#counters tbody");

  function safeGet(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } }
  function t(key) { return LABELS[lang][key] || key; }
  function now() { return Date.now() / 1000 + clockOffset; }

  function url(path, query) {
    var q = new URLSearchParams(query || {});
    if (domainFilter) q.set("domain", domainFilter);
    var s = q.toString();
    return path + (s ? "?" + s : "");
  }

  function getJSON(path, query) {
    var headers = { "Accept": "application/json" };
    if (token) headers["Authorization"] = "Bearer " + token;
    return fetch(url(path, query), { headers: headers, cache: "no-store" }).then(function (r) {
      if (r.status === 401 || r.status === 403) { denied = true; throw new Error("HTTP " + r.status); }
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  // ---- labels ------------------------------------------------------------------------------

  function applyLabels() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.dataset.i18n); });
    document.getElementById("lang").textContent = t("lang");
    var legend = document.getElementById("legend");
    legend.textContent = "";
    STATES.forEach(function (s) {
      var item = document.createElement("span");
      item.className = "chip s-" + s;
      item.textContent = t("state_" + s);
      legend.appendChild(item);
    });
    setStatus(document.getElementById("status").dataset.state);
    tiles.forEach(function (tile) { tile.drawn = null; dirty.add(tile); });
    renderCounters(lastCounters);
    schedule();
  }

  document.getElementById("lang").addEventListener("click", function () {
    lang = lang === "en" ? "ko" : "en";
    try { window.localStorage.setItem("lguapi.lang", lang); } catch (e) { /* private mode */ }
    applyLabels();
  });

  function setStatus(state) {
    var box = document.getElementById("status");
    box.dataset.state = state;
    document.getElementById("status-text").textContent = t(state);
    stats.connected = state === "live";
  }

  // ---- tiles -------------------------------------------------------------------------------

  function makeTile(exten) {
    var el = document.createElement("div");
    el.className = "tile s-offline";
    el.dataset.exten = exten;
    el.dataset.state = "offline";
    var head = document.createElement("div");
    head.className = "head";
    var num = document.createElement("span");
    num.className = "exten";
    num.textContent = exten;
    var st = document.createElement("span");
    st.className = "state";
    head.appendChild(num);
    head.appendChild(st);
    var remote = document.createElement("div");
    remote.className = "remote";
    var dur = document.createElement("div");
    dur.className = "dur";
    el.appendChild(head);
    el.appendChild(remote);
    el.appendChild(dur);
    return { exten: exten, el: el, stateEl: st, remoteEl: remote, durEl: dur, state: "offline",
             domain: null, callId: null, drawn: null, dur: "" };
  }

  function buildTiles(list) {
    var started = performance.now();
    var frag = document.createDocumentFragment();
    var seen = new Set();
    list.forEach(function (ext) {
      seen.add(ext.exten);
      var tile = tiles.get(ext.exten);
      if (!tile) {
        tile = makeTile(ext.exten);
        tiles.set(ext.exten, tile);
        frag.appendChild(tile.el);
      }
      tile.state = ext.state;
      tile.domain = ext.domain;
      tile.callId = ext.call_id || null;
      dirty.add(tile);
    });
    tiles.forEach(function (tile, exten) {
      if (!seen.has(exten)) { tile.el.remove(); tiles.delete(exten); ticking.delete(tile); dirty.delete(tile); }
    });
    $tiles.appendChild(frag);
    $tiles.classList.toggle("dense", tiles.size >= DENSE_FROM);
    document.getElementById("empty").hidden = tiles.size > 0;
    flush();
    stats.tiles = tiles.size;
    return performance.now() - started;
  }

  function callOf(tile) {
    if (tile.callId && calls.has(tile.callId)) return calls.get(tile.callId);
    return null;
  }

  function fmtDuration(seconds) {
    if (seconds == null || !isFinite(seconds) || seconds < 0) seconds = 0;
    seconds = Math.floor(seconds);
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    var mm = (m < 10 && h ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return (h ? h + ":" : "") + mm + ":" + ss;
  }

  function durationOf(tile, call) {
    if (!call || tile.state === "idle" || tile.state === "offline") return "";
    var from = tile.state === "ringing" ? call.ring_at : (call.answer_at || call.ring_at);
    return from ? fmtDuration(now() - from) : "";
  }

  function draw(tile) {
    var call = callOf(tile);
    var remote = call && tile.state !== "idle" && tile.state !== "offline" ? (call.remote_number || "") : "";
    var key = tile.state + "|" + remote + "|" + lang;
    if (tile.drawn !== key) {
      tile.el.className = "tile s-" + tile.state;
      tile.el.dataset.state = tile.state;
      tile.stateEl.textContent = t("state_" + tile.state);
      tile.remoteEl.textContent = remote;
      tile.drawn = key;
    }
    var dur = durationOf(tile, call);
    if (dur !== tile.dur) { tile.durEl.textContent = dur; tile.dur = dur; }
    if (dur) ticking.add(tile); else ticking.delete(tile);
  }

  function schedule() {
    if (!frameQueued) { frameQueued = true; window.requestAnimationFrame(flush); }
  }

  function flush() {
    frameQueued = false;
    dirty.forEach(draw);
    dirty.clear();
  }

  setInterval(function () {            // the ticking durations, once a second
    ticking.forEach(function (tile) { dirty.add(tile); });
    if (ticking.size) schedule();
  }, 1000);

  // ---- counters ----------------------------------------------------------------------------

  var lastCounters = null;

  function renderCounters(counters) {
    lastCounters = counters;
    if (!counters) return;
    var online = {};
    tiles.forEach(function (tile) {
      if (tile.state !== "offline") online[tile.domain] = (online[tile.domain] || 0) + 1;
    });
    var rows = [];
    var domains = counters.domains || {};
    Object.keys(domains).sort().forEach(function (d) { rows.push([d, domains[d], online[d] || 0]); });
    if (counters.total && rows.length > 1) {
      var all = 0;
      Object.keys(online).forEach(function (d) { all += online[d]; });
      rows.push([t("total"), counters.total, all]);
    }
    var frag = document.createDocumentFragment();
    rows.forEach(function (row) {
      var c = row[1], tr = document.createElement("tr");
      [row[0], row[2], c.ringing, c.talking, c.answered, c.missed, c.abandoned,
       c.avg_ring_seconds == null ? "–" : fmtDuration(c.avg_ring_seconds),
       c.avg_talk_seconds == null ? "–" : fmtDuration(c.avg_talk_seconds)].forEach(function (v, i) {
        var td = document.createElement(i ? "td" : "th");
        td.textContent = v == null ? "0" : String(v);
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    $counters.textContent = "";
    $counters.appendChild(frag);
    document.getElementById("summary").textContent =
      tiles.size + " " + t("extensions") + " · " + eventsSeen + " " + t("events") + " · #" + lastId;
  }

  // The counters come from the snapshot, which grows with the extensions: refresh at most
  // every COUNTERS_EVERY_MS, and spend at most about a tenth of the time on it (but
  // refresh at least every MAX_COUNTERS_GAP_MS while calls change).
  var nextCounters = 0;
  function refreshCounters() {
    if (Date.now() < nextCounters) return;
    countersDirty = false;
    var started = Date.now();
    nextCounters = started + 3600000;   // one refresh at a time
    getJSON("/v1/snapshot").then(function (snap) {
      clockOffset = snap.ts - Date.now() / 1000;
      renderCounters(snap.counters);
    }).catch(function () { /* the feed's reconnect logic reports the outage */ }).then(function () {
      var spent = Date.now() - started;
      nextCounters = Date.now() + Math.min(MAX_COUNTERS_GAP_MS, 10 * spent);
    });
  }

  // ---- the feed ----------------------------------------------------------------------------

  function apply(msg) {
    if (msg.id) { lastId = msg.id; stats.lastId = msg.id; }
    eventsSeen += 1;
    if (msg.kind === "gap") { stats.gaps += 1; resync(); return; }
    if (msg.kind === "extension") {
      var d = msg.data, tile = tiles.get(d.exten);
      if (!tile) return;
      tile.state = d.state;
      tile.callId = d.call_id || null;
      dirty.add(tile);
      if (d.previous === "offline" || d.state === "offline") countersDirty = true;
    } else if (msg.kind === "call") {
      var call = msg.data;
      if (msg.type === "call.ended") calls.delete(call.id); else calls.set(call.id, call);
      (call.exten || []).forEach(function (ex) {
        var tl = tiles.get(ex);
        if (!tl) return;
        if (msg.type !== "call.ended" && (!tl.callId || !calls.has(tl.callId))) tl.callId = call.id;
        dirty.add(tl);
      });
      countersDirty = true;
    }
    schedule();
  }

  function onMessage(ev) {
    var msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    if (syncing) { held.push(msg); return; }
    apply(msg);
  }

  function connect() {
    if (es) es.close();
    var q = { kinds: "call,extension" };
    if (lastId) q.since = String(lastId);
    if (token) q.access_token = token;
    es = new EventSource(url("/v1/events", q));
    es.onopen = function () {
      reconnectMs = RECONNECT_MIN_MS;
      setStatus("live");
      if (interrupted) { interrupted = false; resync(); }   // the gateway may have restarted
    };
    es.onmessage = onMessage;
    es.addEventListener("cut", function () { es.close(); setStatus("reconnecting"); later(resync); });
    es.onerror = function () {
      interrupted = true;
      setStatus("reconnecting");
      if (es.readyState === EventSource.CLOSED) later(resync);   // the browser gave up: we do not
    };
  }

  function later(fn) {
    var wait = reconnectMs * (0.5 + Math.random() / 2);
    reconnectMs = Math.min(RECONNECT_MAX_MS, reconnectMs * 2);
    setTimeout(fn, wait);
  }

  // The full state: tiles, live calls, counters and the feed position, then the feed.
  function resync() {
    if (syncing) return;
    syncing = true;
    held = [];
    Promise.all([getJSON("/v1/extensions"), getJSON("/v1/snapshot")]).then(function (res) {
      var list = res[0].extensions, snap = res[1];
      denied = false;
      clockOffset = snap.ts - Date.now() / 1000;
      calls.clear();
      (snap.calls || []).forEach(function (c) { if (c.state !== "ended") calls.set(c.id, c); });
      var renderMs = buildTiles(list);
      if (stats.renderMs === null) stats.renderMs = renderMs;
      renderCounters(snap.counters);
      var position = snap.feed ? snap.feed.last_id : 0;
      syncing = false;
      var pending = held;
      held = [];
      pending.forEach(function (m) { if (m.id > position) apply(m); });
      if (!es || es.readyState === EventSource.CLOSED) { lastId = position; connect(); }
      stats.snapshots += 1;
      stats.ready = true;
    }).catch(function () {
      syncing = false;
      setStatus(denied ? "denied" : "reconnecting");   // a refused token: keep saying so
      later(resync);
    });
  }

  countersTimer = setInterval(function () { if (countersDirty) refreshCounters(); }, COUNTERS_EVERY_MS);
  applyLabels();
  setStatus("connecting");
  resync();
})();
