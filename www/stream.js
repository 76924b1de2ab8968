/* Full-window player page, go2rtc-compatible: stream.html?src=NAME[,NAME2][&mode=mse,mjpeg].
 * webrtc.html uses it too, with <body data-mode="webrtc">. */
(() => {
  'use strict';

  const wrap = document.getElementById('streams');
  const names = CV.srcList();
  if (!names.length) {
    wrap.append(CV.el('p', 'empty', 'No camera selected (add ?src=NAME).'));
    return;
  }
  document.title = names.join(', ') + ' · camvisor';
  const mode = document.body.dataset.mode || CV.params().get('mode') || '';
  // Several sources: a near-square grid filling the window.
  wrap.style.setProperty('--cols', String(Math.ceil(Math.sqrt(names.length))));
  for (const name of names) {
    const player = document.createElement('video-stream');
    player.setAttribute('src', name);
    if (mode) player.setAttribute('mode', mode);
    player.dataset.camera = name;
    wrap.append(player);
  }
})();
