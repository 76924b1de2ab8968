/* Camera grid: one card per camera, figures refreshed every 2 s from api/cameras.
 * Cards (and their players) persist across refreshes; only the text changes. */
(() => {
  'use strict';

  const REFRESH_MS = 2000;
  const grid = document.getElementById('cameras');
  const empty = document.getElementById('empty');
  const count = document.getElementById('count');
  const status = document.getElementById('status');
  const cards = new Map(); // name -> {card, figures}

  function makeCard(name) {
    const card = CV.el('a', 'card');
    card.href = 'links.html?src=' + encodeURIComponent(name);
    card.dataset.camera = name;
    const head = CV.el('div', 'card-head');
    head.append(CV.el('span', 'name', name), CV.el('span', 'more', 'Details ›'));
    const player = document.createElement('video-stream');
    player.setAttribute('src', name);
    player.setAttribute('mode', 'mse,mjpeg,hls');
    const figures = CV.figures();
    card.append(head, player, figures.node);
    return {card, figures};
  }

  function sync(list) {
    const seen = new Set();
    for (const cam of list) {
      if (!cam || typeof cam.name !== 'string' || !cam.name || seen.has(cam.name)) continue;
      seen.add(cam.name);
      let c = cards.get(cam.name);
      if (!c) {
        c = makeCard(cam.name);
        cards.set(cam.name, c);
        grid.append(c.card);
      }
      c.figures.update(cam);
    }
    for (const [name, c] of cards) {
      if (!seen.has(name)) { c.card.remove(); cards.delete(name); } // its player stops itself
    }
    empty.textContent = 'No cameras configured.';
    empty.hidden = cards.size > 0;
    count.textContent = cards.size === 1 ? '1 camera' : cards.size + ' cameras';
  }

  // api/cameras has the figures; api/streams (go2rtc's) is only a fallback list of names.
  async function fetchCameras() {
    try {
      const j = await CV.getJSON('api/cameras');
      if (j && Array.isArray(j.cameras)) return j.cameras;
    } catch (e) { /* try the fallback */ }
    const s = await CV.getJSON('api/streams');
    if (!s || typeof s !== 'object') throw new Error('bad api/streams');
    return Object.keys(s).map(name => ({name}));
  }

  async function refresh() {
    if (!document.hidden) {
      try {
        sync(await fetchCameras());
        status.hidden = true;
      } catch (e) {
        status.hidden = false; // keep the cards: their players reconnect by themselves
      }
    }
    setTimeout(refresh, REFRESH_MS);
  }

  refresh();
})();
