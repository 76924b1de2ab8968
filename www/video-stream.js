/* camvisor player: <video-stream src="NAME" mode="webrtc,mse,mjpeg,hls"></video-stream>
 *
 * The one copy of the player, used by every page. WebRTC first, as go2rtc's:
 * a recvonly offer POSTed to api/webrtc (JSON), the answer set, the tracks
 * played; a session that fails or goes silent reconnects by itself, and an
 * offer the server cannot answer (no camvisor-webrtc, no codec in common)
 * falls back to the next mode. MSE speaks go2rtc's /api/ws protocol: we send
 * {"type":"mse","value":"<codecs we can play>"}, the server answers
 * {"type":"mse","value":"<mime>"} and then binary messages (the init segment,
 * then one fMP4 fragment per frame). MJPEG (<img>) and native HLS come last.
 *
 * Test hooks on the element: data-state = connecting | playing | error | idle,
 * data-reconnects = reconnect count, data-mode = webrtc | mse | mjpeg | hls,
 * data-reason = why it last reconnected or fell back.
 */
(() => {
  'use strict';

  const CODECS = ['avc1.640029', 'avc1.64002A', 'avc1.640033', 'hvc1.1.6.L153.B0',
                  'mp4a.40.2', 'mp4a.40.5', 'flac', 'opus'];
  const DEFAULT_MODES = 'webrtc,mse,mjpeg,hls';
  const BACKOFF_MIN = 500, BACKOFF_MAX = 5000;
  const STALL_MS = 5000;      // playing, then no progress this long: reconnect
  const WAIT_MS = 2000;      // frozen this long: no longer report "playing"
  const START_MS = 10000;     // an on-demand camera needs time for its first keyframe
  const HIDDEN_MS = 5000;     // like go2rtc: drop the stream 5 s after the page is hidden
  const KEEP_S = 6, TRIM_S = 10; // seconds of buffer kept / allowed behind the live edge
  const MAX_QUEUE = 16 << 20; // bytes waiting for the SourceBuffer before we give up

  // iOS 17+ has only ManagedMediaSource; everything else has MediaSource.
  const MS = window.MediaSource || window.ManagedMediaSource || null;
  const noop = () => {};

  const supportedCodecs = () =>
    CODECS.filter(c => MS.isTypeSupported(`video/mp4; codecs="${c}"`)).join(',');

  function concat(list, total) {
    const out = new Uint8Array(total);
    let off = 0;
    for (const b of list) { out.set(new Uint8Array(b), off); off += b.byteLength; }
    return out;
  }

  class VideoStream extends HTMLElement {
    static get observedAttributes() { return ['src', 'mode']; }

    constructor() {
      super();
      this.running = false;
      this.reconnects = 0;
      this.backoff = BACKOFF_MIN;
      this.retryTimer = 0;
      this.onVisibility = this.onVisibility.bind(this);
    }

    connectedCallback() {
      if (!this.video) this.build();
      document.addEventListener('visibilitychange', this.onVisibility);
      if (!this.running && !document.hidden) this.start();
    }

    disconnectedCallback() {
      // Moving the element disconnects and reconnects it in one task: stop only if it is gone.
      setTimeout(() => {
        if (this.isConnected) return;
        document.removeEventListener('visibilitychange', this.onVisibility);
        this.stop();
      }, 0);
    }

    attributeChangedCallback(name, oldValue, newValue) {
      if (oldValue !== newValue && this.running) { this.stop(); this.start(); }
    }

    get mode() { return this.modes ? this.modes[this.modeIdx] : undefined; }

    build() {
      const v = document.createElement('video');
      v.muted = v.defaultMuted = true;   // muted + playsinline: allowed to autoplay everywhere
      v.autoplay = true;
      v.playsInline = true;
      v.setAttribute('muted', '');
      v.setAttribute('playsinline', '');
      v.addEventListener('timeupdate', () => this.onProgress());
      v.addEventListener('error', () => {
        if (this.running && this.mode !== 'mjpeg' && v.error)
          this.reconnect('video error ' + v.error.code + (v.error.message ? ': ' + v.error.message : ''));
      });
      const img = document.createElement('img');
      img.alt = '';
      img.hidden = true;
      img.addEventListener('load', () => { if (this.mode === 'mjpeg' && this.running) this.setPlaying(); });
      img.addEventListener('error', () => {
        if (this.mode === 'mjpeg' && this.running && img.getAttribute('src')) this.reconnect('mjpeg failed');
      });
      const msg = document.createElement('div');
      msg.className = 'vs-msg';
      this.append(v, img, msg);
      this.video = v; this.img = img; this.msg = msg;
      this.dataset.reconnects = '0';
    }

    // Modes the caller asked for, in its order, that this browser can do.
    pickModes() {
      const ok = m => (m === 'webrtc' && !!window.RTCPeerConnection) || (m === 'mse' && !!MS) ||
        m === 'mjpeg' ||
        (m === 'hls' && this.video.canPlayType('application/vnd.apple.mpegurl') !== '');
      const want = (this.getAttribute('mode') || DEFAULT_MODES).split(',').map(s => s.trim().toLowerCase());
      const modes = want.filter((m, i) => ok(m) && want.indexOf(m) === i);
      return modes.length ? modes : DEFAULT_MODES.split(',').filter(ok);
    }

    start() {
      this.running = true;
      this.backoff = BACKOFF_MIN;
      this.modes = this.pickModes();
      this.modeIdx = 0;
      clearInterval(this.tickTimer);
      this.tickTimer = setInterval(() => this.tick(), 1000);
      this.connect();
    }

    stop() {
      this.running = false;
      clearInterval(this.tickTimer);
      clearTimeout(this.retryTimer); this.retryTimer = 0;
      clearTimeout(this.hideTimer);
      this.closeTransport(false);
      this.setState('idle', 'Paused');
    }

    connect() {
      if (!this.running) return;
      this.closeTransport(true);
      const name = this.getAttribute('src') || '';
      if (!name) { this.setState('error', 'No camera given (src)'); return; }
      this.dataset.mode = this.mode;
      this.lastProgress = performance.now();
      this.progressed = false;
      // An error stays on screen while we retry, until video plays again.
      if (this.dataset.state !== 'error')
        this.setState('connecting', this.reconnects ? 'Reconnecting…' : 'Connecting…');
      const q = 'src=' + encodeURIComponent(name);
      this.video.hidden = this.mode === 'mjpeg';
      this.img.hidden = this.mode !== 'mjpeg';
      if (this.mode === 'webrtc') this.openWebRTC(q);
      else if (this.mode === 'mse') this.openSocket(q);
      else if (this.mode === 'mjpeg') this.img.src = 'api/stream.mjpeg?' + q;
      else { this.lastTime = 0; this.video.src = 'api/stream.m3u8?' + q; this.play(); }
    }

    // Retry with backoff (0.5 s doubling to 5 s); idempotent while a retry is pending.
    reconnect(reason) {
      if (!this.running || this.retryTimer) return;
      this.closeTransport(true);
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX);
      this.reconnects++;
      this.dataset.reconnects = String(this.reconnects);
      this.dataset.reason = reason;
      if (this.dataset.state !== 'error') this.setState('connecting', 'Reconnecting…');
      this.retryTimer = setTimeout(() => { this.retryTimer = 0; this.connect(); }, delay);
    }

    // keepFrame: leave the old MediaSource attached so the last frame stays
    // on screen until the next connection brings a new one.
    closeTransport(keepFrame) {
      if (this.pc) {
        const pc = this.pc;
        this.pc = null;
        pc.ontrack = pc.onconnectionstatechange = null;
        try { pc.close(); } catch (e) { /* already closed */ }
      }
      if (this.ws) {
        const ws = this.ws;
        this.ws = null;
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        try { ws.close(); } catch (e) { /* already closed */ }
      }
      this.sb = null;
      this.mime = '';
      this.queue = [];
      this.queued = 0;
      const v = this.video;
      if (!(keepFrame && this.mode === 'mse') && (v.getAttribute('src') || v.srcObject)) {
        this.ms = null;
        this.revokeURL();
        v.removeAttribute('src');
        if ('srcObject' in v) v.srcObject = null;
        v.load();
      }
      if (this.img.getAttribute('src')) this.img.removeAttribute('src');
    }

    // WebRTC: one PeerConnection, recvonly video and audio, signalled over HTTP.
    openWebRTC(q) {
      const pc = new RTCPeerConnection();
      const stream = new MediaStream();
      this.pc = pc;
      pc.addTransceiver('video', {direction: 'recvonly'});
      pc.addTransceiver('audio', {direction: 'recvonly'});
      pc.ontrack = ev => {
        stream.addTrack(ev.track);
        if (this.video.srcObject !== stream) { this.video.srcObject = stream; this.lastTime = 0; }
        this.play();
      };
      pc.onconnectionstatechange = () => {
        if (this.pc !== pc) return;
        const st = pc.connectionState;
        if (st === 'failed' || st === 'closed') this.reconnect('webrtc ' + st);
      };
      pc.createOffer()
        .then(offer => pc.setLocalDescription(offer))
        .then(() => fetch(new URL('api/webrtc?' + q, document.baseURI).href, {
          method: 'POST', headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({type: 'offer', sdp: pc.localDescription.sdp})}))
        .then(r => r.ok ? r.json() : r.text().then(t => { throw new Error(r.status + ' ' + t); }))
        .then(ans => { if (this.pc === pc) return pc.setRemoteDescription(ans); })
        .catch(e => {
          if (this.pc !== pc) return;
          const why = 'webrtc: ' + (e && e.message ? e.message : e);
          this.dataset.reason = why;
          // Refused for good (no camvisor-webrtc, no codec in common): the next mode; a
          // network error or a restart: the same mode again.
          if (/^(404|500|501|503) /.test(e && e.message || '')) this.fallback(why);
          else this.reconnect(why);
        });
    }

    openSocket(q) {
      let ws;
      try {
        // Relative to the page, so it works under a base path (/live/mse/...) too.
        const url = new URL('api/ws?' + q, document.baseURI).href.replace(/^http/, 'ws');
        ws = new WebSocket(url);
      } catch (e) {
        this.reconnect('bad websocket url');
        return;
      }
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => ws.send(JSON.stringify({type: 'mse', value: supportedCodecs()}));
      ws.onmessage = ev => this.onMessage(ev.data);
      ws.onclose = () => { if (this.ws === ws) this.reconnect('socket closed'); };
      this.ws = ws;
    }

    onMessage(data) {
      if (typeof data === 'string') {
        let msg;
        try { msg = JSON.parse(data); } catch (e) { return; }
        if (!msg) return;
        if (msg.type === 'mse') this.setupMSE(String(msg.value || ''));
        // The server cannot give this mode (no codec in common, a transcode refused): the
        // next mode the caller allowed, as go2rtc's player does.
        else if (msg.type === 'error') this.fallback(String(msg.value || 'error'));
        return;
      }
      if (!this.mime) return; // media before the handshake: nothing could decode it
      this.queue.push(data);
      this.queued += data.byteLength;
      if (this.queued > MAX_QUEUE) { this.reconnect('falling behind'); return; }
      this.pump();
    }

    // A (new) mse message: build a fresh MediaSource, as the codec may have changed.
    setupMSE(mime) {
      if (!MS.isTypeSupported(mime)) { this.fallback('Unsupported codec: ' + mime); return; }
      const v = this.video, ms = new MS();
      this.ms = ms; this.sb = null; this.mime = mime;
      this.queue = []; this.queued = 0;
      this.revokeURL();
      ms.addEventListener('sourceopen', () => {
        if (this.ms !== ms) return;
        this.revokeURL(); // attached now; the blob URL is no longer needed
        let sb;
        try {
          sb = ms.addSourceBuffer(mime);
          sb.mode = 'segments';
        } catch (e) { this.fallback('MSE: ' + e.message); return; }
        sb.addEventListener('updateend', () => { if (this.sb === sb) this.pump(); });
        this.sb = sb;
        this.pump();
      }, {once: true});
      if (window.MediaSource) {
        if ('srcObject' in v) v.srcObject = null;
        v.src = this.objURL = URL.createObjectURL(ms);
      } else {
        v.disableRemotePlayback = true; // ManagedMediaSource requires it
        v.srcObject = ms;
      }
      this.lastTime = 0;
      this.play();
    }

    revokeURL() {
      if (this.objURL) { URL.revokeObjectURL(this.objURL); this.objURL = ''; }
    }

    // Try the next mode the caller allowed (e.g. MJPEG when the codec is unplayable).
    fallback(text) {
      if (this.modeIdx + 1 < this.modes.length) {
        this.closeTransport(false);
        this.modeIdx++;
        this.connect();
      } else {
        this.setState('error', text);
      }
    }

    // Append queued data in order, one append at a time; trim and chase the edge when idle.
    pump() {
      const sb = this.sb;
      if (!sb || sb.updating || this.ms.readyState !== 'open') return;
      if (this.queued) {
        const data = this.queue.length === 1 ? this.queue[0] : concat(this.queue, this.queued);
        this.queue = []; this.queued = 0;
        try { sb.appendBuffer(data); } catch (e) { this.reconnect('append: ' + e.name); }
        return;
      }
      this.trim(sb);
      this.liveEdge();
    }

    trim(sb) {
      const b = sb.buffered;
      if (!b.length) return;
      const start = b.start(0), end = b.end(b.length - 1);
      if (end - start <= TRIM_S) return;
      const to = Math.min(end - KEEP_S, this.video.currentTime - 1);
      if (to > start) try { sb.remove(start, to); } catch (e) { /* source closing */ }
    }

    // Stay near the live edge: jump into the data when before it (start, gap),
    // jump when over 3 s behind, play 1.25x while over 1 s behind.
    liveEdge() {
      const v = this.video, b = v.buffered;
      if (!b.length || v.seeking) return;
      const start = b.start(b.length - 1), end = b.end(b.length - 1), t = v.currentTime;
      let to = -1;
      if (t < start) to = Math.max(start, end - 0.5);
      else if (end - t > 3) to = end - 0.5;
      if (to >= 0) {
        v.currentTime = to;
        this.lastTime = to; // our own seek is not playback progress
        return;
      }
      const gap = end - t;
      if (gap > 1) v.playbackRate = 1.25;
      else if (gap < 0.4 && v.playbackRate !== 1) v.playbackRate = 1;
    }

    // Progress = currentTime moving forward on the current connection.
    onProgress() {
      const v = this.video;
      if (!this.running || this.mode === 'mjpeg' || v.seeking) return;
      if (this.mode === 'mse' && !this.sb) return; // old source playing out its tail
      const t = v.currentTime;
      if (t > this.lastTime + 0.01) {
        this.lastTime = t;
        this.lastProgress = performance.now();
        this.progressed = true;
        this.setPlaying();
      } else if (t < this.lastTime) {
        this.lastTime = t; // new source started over: a new baseline, not progress
      }
    }

    tick() {
      if (!this.running || this.retryTimer) return;
      if (this.mode === 'mjpeg') {
        if (this.img.naturalWidth > 0) this.setPlaying();
        return;
      }
      const v = this.video;
      if (v.paused && (v.getAttribute('src') || v.srcObject)) this.play();
      if (this.mode === 'mse' && this.sb) this.liveEdge();
      this.onProgress();
      const idle = performance.now() - this.lastProgress;
      if (idle > (this.progressed ? STALL_MS : START_MS)) this.reconnect(this.progressed ? 'stalled' : 'no video');
      else if (idle > WAIT_MS && this.dataset.state === 'playing') this.setState('connecting', 'Waiting for video…');
    }

    play() {
      const p = this.video.play();
      if (p && p.catch) p.catch(noop); // interrupted by a new source: not an error
    }

    setPlaying() {
      this.backoff = BACKOFF_MIN;
      if (this.dataset.state !== 'playing') this.setState('playing', '');
    }

    setState(state, text) {
      if (this.dataset.state !== state) this.dataset.state = state;
      if (text !== undefined && this.msg.textContent !== text) this.msg.textContent = text;
    }

    onVisibility() {
      clearTimeout(this.hideTimer);
      if (document.hidden) {
        if (this.running) this.hideTimer = setTimeout(() => this.stop(), HIDDEN_MS);
      } else if (!this.running && this.isConnected) {
        this.start();
      }
    }
  }

  if (!customElements.get('video-stream')) customElements.define('video-stream', VideoStream);
})();
