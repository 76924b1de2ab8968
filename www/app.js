/* Shared page code for camvisor's UI: API fetches, formatting, the figures table.
 * All URLs are relative to the page, so the UI works under a base path or a proxy. */
(() => {
  'use strict';

  // createElement + textContent only: camera names and errors are data, never HTML.
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  async function getJSON(path, timeoutMs = 4000) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs);
    try {
      const r = await fetch(path, {cache: 'no-store', signal: ctl.signal});
      if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
      return await r.json();
    } finally {
      clearTimeout(timer);
    }
  }

  const num = v => (typeof v === 'number' && isFinite(v) ? v : null);

  function fmtBitrate(bps) {
    bps = num(bps);
    if (bps === null || bps < 0) return '–';
    if (bps < 1e6) return Math.round(bps / 1e3) + ' kb/s';
    return (bps / 1e6).toFixed(bps < 1e7 ? 2 : 1) + ' Mb/s';
  }

  function fmtUptime(s) {
    s = num(s);
    if (s === null || s < 0) return '–';
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
          m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (d) return `${d}d ${h}h ${m}m`;
    if (h) return `${h}h ${m}m ${sec}s`;
    if (m) return `${m}m ${sec}s`;
    return `${sec}s`;
  }

  const fmtRes = (w, h) => (num(w) > 0 && num(h) > 0 ? `${w}×${h}` : '–');
  const fmtFps = f => (num(f) > 0 ? String(Math.round(f * 10) / 10) : '–');

  // viewers is {"mse":1,"rtsp":0,...}: total, plus the non-zero ones for a tooltip.
  function fmtViewers(v) {
    if (!v || typeof v !== 'object') return {total: '–', detail: ''};
    let total = 0;
    const parts = [];
    for (const [k, n] of Object.entries(v)) {
      if (num(n) > 0) { total += n; parts.push(`${k} ${n}`); }
    }
    return {total: String(total), detail: parts.join(', ')};
  }

  const STATES = new Set(['stopped', 'connecting', 'streaming', 'reconnecting']);
  const FIELDS = [['state', 'State'], ['codecs', 'Codecs'], ['res', 'Resolution'], ['fps', 'FPS'],
                  ['bitrate', 'Bitrate'], ['uptime', 'Uptime'], ['restarts', 'Restarts'],
                  ['viewers', 'Viewers'], ['transcode', 'Transcode']];

  // A <dl> of a camera's figures; update() only touches text that changed.
  function figures() {
    const node = el('dl', 'figures');
    const dd = {};
    for (const [key, label] of FIELDS) {
      const row = el('div');
      row.dataset.field = key;
      row.append(el('dt', null, label), dd[key] = el('dd', null, '–'));
      node.append(row);
    }
    const errRow = el('div', 'err');
    errRow.dataset.field = 'error';
    errRow.hidden = true;
    errRow.append(el('dt', null, 'Last error'), dd.error = el('dd'));
    node.append(errRow);

    const set = (key, text) => { if (dd[key].textContent !== text) dd[key].textContent = text; };

    function update(cam) {
      cam = cam || {};
      const state = typeof cam.state === 'string' && cam.state ? cam.state : 'unknown';
      set('state', state);
      dd.state.className = 'state state-' + (STATES.has(state) ? state : 'unknown');
      const codecs = Array.isArray(cam.codecs) ? cam.codecs.join(',') : cam.codecs;
      set('codecs', typeof codecs === 'string' && codecs ? codecs.replace(/,/g, ', ') : '–');
      set('res', fmtRes(cam.width, cam.height));
      set('fps', fmtFps(cam.fps));
      set('bitrate', fmtBitrate(cam.bitrate));
      set('uptime', fmtUptime(cam.uptime_s));
      set('restarts', num(cam.restarts) !== null ? String(cam.restarts) : '–');
      const viewers = fmtViewers(cam.viewers);
      set('viewers', viewers.total);
      dd.viewers.title = viewers.detail;
      // "h264 640x360; decoder: software (nvdec: ...)": what is made, and on what (and why).
      const xc = typeof cam.transcode === 'string' ? cam.transcode : '';
      set('transcode', xc ? xc.split(';')[0] : '–');
      dd.transcode.title = xc;
      const error = typeof cam.error === 'string' ? cam.error : '';
      set('error', error);
      errRow.hidden = !error || state === 'streaming';
    }
    return {node, update};
  }

  // GET api once it answers (version for the footer, rtsp port for links).
  let apiInfo = null;
  function getAPI() {
    if (!apiInfo) apiInfo = getJSON('api').catch(e => { apiInfo = null; throw e; });
    return apiInfo;
  }

  function footer() {
    const f = document.querySelector('[data-version]');
    if (!f) return;
    getAPI().then(info => {
      const own = info.camvisor && info.camvisor.version; // GET /api: camvisor: {version}
      const parts = ['camvisor ' + (own || '?')];
      if (info.version) parts.push('go2rtc API ' + info.version);
      f.textContent = parts.join(' · ');
    }, () => setTimeout(footer, 10000));
  }

  // Clipboard API needs a secure context; plain http on a LAN falls back to execCommand.
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch (e) { /* fall back */ }
    }
    const ta = el('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }

  const params = () => new URLSearchParams(location.search);
  // go2rtc accepts src=a&src=b and src=a,b.
  const srcList = () => params().getAll('src')
    .flatMap(s => s.split(',')).map(s => s.trim()).filter(Boolean);
  const abs = rel => new URL(rel, document.baseURI).href;

  window.CV = {el, getJSON, getAPI, figures, footer, copyText, params, srcList, abs,
               fmtBitrate, fmtUptime, fmtRes, fmtFps};

  document.addEventListener('DOMContentLoaded', footer);
})();
