/* Camera page: live player, figures, every output URL with a copy button, snapshot. */
(() => {
  'use strict';

  const name = CV.srcList()[0];
  const page = document.getElementById('page');
  if (!name) {
    page.replaceChildren(CV.el('p', 'empty', 'No camera selected (add ?src=NAME).'));
    return;
  }
  const q = 'src=' + encodeURIComponent(name);
  document.title = name + ' · camvisor';
  document.getElementById('title').textContent = name;

  // Player and figures.
  const panel = document.getElementById('player-panel');
  const player = document.createElement('video-stream');
  player.setAttribute('src', name);
  const mode = CV.params().get('mode');
  if (mode) player.setAttribute('mode', mode);
  const figures = CV.figures();
  panel.dataset.camera = name;
  panel.append(player, figures.node);

  async function refresh() {
    if (!document.hidden) {
      try {
        const j = await CV.getJSON('api/cameras');
        const cams = j && Array.isArray(j.cameras) ? j.cameras : [];
        figures.update(cams.find(c => c && c.name === name) || {state: 'not found'});
      } catch (e) { /* server away: keep the last figures */ }
    }
    setTimeout(refresh, 2000);
  }
  refresh();

  // Output links. RTSP uses the page's host; IPv6 literals need brackets.
  function rtspURL(port) {
    let host = location.hostname || 'localhost';
    if (host.includes(':') && !host.startsWith('[')) host = '[' + host + ']';
    return `rtsp://${host}:${port}/${encodeURIComponent(name)}`;
  }

  const list = document.getElementById('links');
  function addLink(label, url, openable) {
    const li = CV.el('li');
    const input = CV.el('input');
    input.readOnly = true;
    input.value = url;
    input.addEventListener('focus', () => input.select());
    const copy = CV.el('button', null, 'Copy');
    copy.type = 'button';
    copy.addEventListener('click', async () => {
      const ok = await CV.copyText(input.value);
      copy.textContent = ok ? 'Copied' : 'Select & copy';
      if (!ok) input.select();
      setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
    });
    const actions = CV.el('span', 'actions');
    actions.append(copy);
    if (openable) {
      const a = CV.el('a', 'open', 'Open');
      a.href = url;
      a.target = '_blank';
      a.rel = 'noopener';
      actions.append(a);
    }
    li.append(CV.el('span', 'label', label), input, actions);
    list.append(li);
    return input;
  }

  const rtsp = addLink('RTSP', rtspURL(8554), false);
  addLink('MP4 (fMP4 stream)', CV.abs('api/stream.mp4?' + q), true);
  addLink('HLS', CV.abs('api/stream.m3u8?' + q), true);
  addLink('MJPEG', CV.abs('api/stream.mjpeg?' + q), true);
  addLink('JPEG snapshot', CV.abs('api/frame.jpeg?' + q), true);
  addLink('Player page', CV.abs('stream.html?' + q), true);

  // The RTSP port is configurable; api reports it like go2rtc ({"rtsp":{"listen":":8554"}}).
  CV.getAPI().then(info => {
    const m = info && info.rtsp && /:(\d+)$/.exec(String(info.rtsp.listen || ''));
    if (m) rtsp.value = rtspURL(m[1]);
  }, () => {});

  // Snapshot: fetch as a blob (no cache-busting parameter needed), swap when loaded.
  const snap = document.getElementById('snapshot');
  const note = document.getElementById('snapshot-note');
  let snapURL = '';
  async function snapshot() {
    if (!document.hidden) {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), 10000);
      try {
        const r = await fetch('api/frame.jpeg?' + q, {cache: 'no-store', signal: ctl.signal});
        const blob = await r.blob();
        if (!r.ok || !blob.size) throw new Error('no snapshot');
        const url = URL.createObjectURL(blob);
        snap.onload = () => {
          if (snapURL) URL.revokeObjectURL(snapURL);
          snapURL = url;
          snap.hidden = false;
          note.hidden = true;
        };
        snap.onerror = () => {
          URL.revokeObjectURL(url);
          note.textContent = 'Snapshot unavailable.';
          note.hidden = false;
        };
        snap.src = url;
      } catch (e) {
        note.textContent = 'Snapshot unavailable.';
        note.hidden = false;
      } finally {
        clearTimeout(timer);
      }
    }
    setTimeout(snapshot, 5000);
  }
  snapshot();
})();
