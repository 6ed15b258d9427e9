// vmstream player: WebSocket H.264 from wsh264sink, decoded with WebCodecs.
// Protocol: docs/websocket.md. Plain script, no build step.
'use strict';

(function () {
  const HEADER_SIZE = 32;
  const FLAG_KEY = 1;
  const params = new URLSearchParams(location.search);
  // The viewer token comes in the URL fragment (#token=...), which browsers
  // never send to a server, so it stays out of server and proxy logs; it
  // goes to the server as the WebSocket subprotocol token.<token>, never in
  // a URL. ?token= of older links is still read, and used the same way.
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const viewerToken = fragment.get('token') || params.get('token');
  const canvas = document.getElementById('screen');
  const ctx = canvas.getContext('2d');
  const overlay = document.getElementById('overlay');
  const statusEl = document.getElementById('status');
  const messageEl = document.getElementById('message');

  // State exposed for tests and curious users (window.vmstreamPlayer).
  const state = {
    connected: false,
    connects: 0,
    initCount: 0,
    codec: null,
    width: 0, // from the init message
    height: 0,
    decodedFrames: 0,
    decodedWidth: 0, // displayWidth of the last decoded frame
    decodedHeight: 0,
    framesReceived: 0,
    bytesReceived: 0,
    skippedFrames: 0,
    decodeQueue: 0,
    latencyMs: null, // capture -> paint when the stream knows capture time
    latencyKind: 'none',
    // Frames the decoder holds back (decoded but not output, e.g. waiting
    // for reordering): submitted - output - still queued, at each output.
    heldFrames: 0,
    maxHeldFrames: 0,
    lastError: null,
    inputsSent: 0,
    // What the page tells the viewer instead of a black picture: kind is
    // 'connecting', 'waiting' (connected, no picture yet), 'insecure',
    // 'no-webcodecs', 'token', 'gone', 'reconnecting', or '' while the
    // picture plays.
    messageKind: 'connecting',
    message: 'Connecting…',
    resizeRequests: 0, // {"type":"resize"} messages sent (#fit=1)
  };
  window.vmstreamPlayer = state;

  let ws = null;
  let decoder = null;
  let waitingKey = true;
  let submitted = 0;
  let backoffMs = 250;
  let reconnectTimer = null;
  const pending = new Map(); // chunk timestamp -> frame header times
  let lastCapture = 0; // capture time of the last frame shown

  function setStatus(text) {
    statusEl.textContent = text;
  }

  function tell(kind, text) {
    state.messageKind = kind;
    state.message = text;
    messageEl.textContent = text;
    messageEl.hidden = kind === '';
  }

  function closeDecoder() {
    if (decoder && decoder.state !== 'closed') {
      try { decoder.close(); } catch (e) { /* already closed */ }
    }
    decoder = null;
    pending.clear();
    submitted = 0;
    waitingKey = true;
  }

  function onFrame(frame) {
    const times = pending.get(frame.timestamp);
    pending.delete(frame.timestamp);
    if (canvas.width !== frame.displayWidth ||
        canvas.height !== frame.displayHeight) {
      canvas.width = frame.displayWidth;
      canvas.height = frame.displayHeight;
    }
    ctx.drawImage(frame, 0, 0, canvas.width, canvas.height);
    state.decodedFrames++;
    if (state.messageKind !== '') tell('', '');
    state.decodedWidth = frame.displayWidth;
    state.decodedHeight = frame.displayHeight;
    state.heldFrames = Math.max(0,
        submitted - state.decodedFrames - (decoder ? decoder.decodeQueueSize : 0));
    state.maxHeldFrames = Math.max(state.maxHeldFrames, state.heldFrames);
    if (times) {
      const nowUs = Date.now() * 1000;
      if (times.capture > 0) {
        // A frame the host repeated (vsocksrc repeat-interval, qemudisplaysrc)
        // keeps its capture time: its age is not latency, only new ones count.
        if (times.capture !== lastCapture) {
          state.latencyMs = (nowUs - times.capture) / 1000;
          state.latencyKind = 'capture';
        }
        lastCapture = times.capture;
      } else if (times.send > 0) {
        state.latencyMs = (nowUs - times.send) / 1000;
        state.latencyKind = 'sink';
      }
    }
    frame.close();
  }

  function configure(init) {
    closeDecoder();
    decoder = new VideoDecoder({
      output: onFrame,
      error: (e) => {
        state.lastError = String(e);
        console.error('decoder error', e);
        closeDecoder();
        // Start over at the next keyframe with a fresh decoder.
        if (state.codec) configure({ codec: state.codec });
      },
    });
    // Annex-B input: no description, SPS/PPS travel in-band.
    decoder.configure({
      codec: init.codec,
      optimizeForLatency: true,
      hardwareAcceleration: 'no-preference',
    });
    waitingKey = true;
  }

  function onInit(init) {
    state.initCount++;
    state.codec = init.codec;
    state.width = init.width;
    state.height = init.height;
    if (canvas.width !== init.width || canvas.height !== init.height) {
      canvas.width = init.width;
      canvas.height = init.height;
    }
    configure(init);
  }

  function onBinary(buf) {
    if (buf.byteLength < HEADER_SIZE) return;
    const dv = new DataView(buf);
    const version = dv.getUint8(0);
    const flags = dv.getUint8(1);
    const hlen = dv.getUint16(2, true);
    if (version !== 1 || hlen < HEADER_SIZE || hlen > buf.byteLength) return;
    const seq = dv.getUint32(4, true);
    const pts = dv.getBigUint64(8, true);
    const capture = Number(dv.getBigUint64(16, true));
    const send = Number(dv.getBigUint64(24, true));
    const key = (flags & FLAG_KEY) !== 0;
    state.framesReceived++;
    state.bytesReceived += buf.byteLength;
    bitrateBytes += buf.byteLength;

    if (!decoder || decoder.state !== 'configured') return;
    if (waitingKey && !key) {
      state.skippedFrames++;
      return;
    }
    // A decoder that cannot keep up falls behind the live picture: skip to
    // the next keyframe instead of showing an ever older desktop.
    if (decoder.decodeQueueSize > 30 && !key) {
      waitingKey = true;
      state.skippedFrames++;
      return;
    }
    waitingKey = false;
    const timestamp = pts === 0xffffffffffffffffn ? seq * 1000 : Number(pts);
    pending.set(timestamp, { capture, send });
    if (pending.size > 300) pending.delete(pending.keys().next().value);
    try {
      decoder.decode(new EncodedVideoChunk({
        type: key ? 'key' : 'delta',
        timestamp,
        data: new Uint8Array(buf, hlen),
      }));
      submitted++;
    } catch (e) {
      state.lastError = String(e);
      waitingKey = true;
    }
  }

  function scheduleReconnect(why) {
    if (reconnectTimer) return;
    setStatus(`disconnected, retrying in ${(backoffMs / 1000).toFixed(1)} s`);
    tell('reconnecting', `${why || 'The connection to the stream was lost.'} ` +
         `Reconnecting in ${(backoffMs / 1000).toFixed(1)} s…`);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      connect();
    }, backoffMs);
    backoffMs = Math.min(backoffMs * 2, 8000);
  }

  // A browser shows no reason for a refused WebSocket handshake, so the
  // page asks config.json first: 404 is a session that is gone (the
  // supervisor's answer), token_ok says whether the token is right.
  async function connect() {
    let cfg = { stream_path: '/stream/', subprotocol: 'vmstream' };
    try {
      const headers = viewerToken ? { Authorization: `Bearer ${viewerToken}` } : {};
      const r = await fetch('config.json', { cache: 'no-store', headers });
      if (r.status === 404) {
        let why = '';
        try { why = (await r.json()).error || ''; } catch (e) { /* text */ }
        tell('gone', 'This session is gone: it was stopped or deleted' +
             (why ? ` (${why}).` : '.') + ' Ask for a new viewer link.');
        setStatus('session gone');
        return;
      }
      if (!r.ok) {
        let why = `The server answered ${r.status}.`;
        try { why = (await r.json()).error || why; } catch (e) { /* text */ }
        scheduleReconnect(why);
        return;
      }
      cfg = await r.json();
    } catch (e) {
      scheduleReconnect('The server cannot be reached.');
      return;
    }
    if (cfg.token_required && (!viewerToken || cfg.token_ok === false)) {
      tell('token', viewerToken
          ? 'The viewer token in this link is not valid for this session. ' +
            'Ask for a new viewer link.'
          : 'This stream needs a viewer token: open the viewer link ' +
            '(it ends in #token=…).');
      setStatus('no valid token');
      return;
    }
    let path = params.get('stream') || cfg.stream_path;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${scheme}//${location.host}${path}`;
    const protocols = [cfg.subprotocol || 'vmstream'];
    // a subprotocol is an HTTP token: the secret must be one too
    if (viewerToken && /^[A-Za-z0-9._~-]+$/.test(viewerToken)) {
      protocols.push(`token.${viewerToken}`);
    }
    setStatus(`connecting to ${path}`);
    ws = new WebSocket(url, protocols);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      state.connected = true;
      state.connects++;
      backoffMs = 250;
      setStatus(`connected to ${path}`);
      tell('waiting', 'Connected: waiting for the first picture…');
      if (fit) { fitSent = ''; scheduleFit(); }
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type === 'init') onInit(msg);
      } else {
        onBinary(ev.data);
      }
    };
    ws.onclose = (ev) => {
      state.connected = false;
      state.closeCode = ev.code;
      state.closeReason = ev.reason;
      ws = null;
      closeDecoder();
      scheduleReconnect(ev.reason ? `${ev.reason}` : undefined);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  // ---- fit: with #fit=1 in the URL the player asks the desktop to take
  // its window's size, 500 ms after the last change (and on connect); the
  // session resizes the desktop and every viewer gets a new init. Rounded
  // down to even sizes within 320x200..4096x2160 (docs/websocket.md).
  const fit = fragment.get('fit') === '1';
  let fitTimer = null;
  let fitSent = '';

  function requestFit() {
    fitTimer = null;
    const even = (v, lo, hi) => Math.max(lo, Math.min(hi, Math.floor(v / 2) * 2));
    const w = even(window.innerWidth, 320, 4096);
    const h = even(window.innerHeight, 200, 2160);
    const key = `${w}x${h}`;
    if (key === fitSent || !ws || ws.readyState !== WebSocket.OPEN) return;
    fitSent = key;
    ws.send(JSON.stringify({ type: 'resize', width: w, height: h }));
    state.resizeRequests++;
  }

  function scheduleFit() {
    if (fitTimer) clearTimeout(fitTimer);
    fitTimer = setTimeout(requestFit, 500);
  }
  if (fit) window.addEventListener('resize', scheduleFit);

  // ---- input: keyboard and mouse on the canvas go back as JSON ----
  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(obj));
      state.inputsSent++;
    }
  }

  function videoCoords(e) {
    const r = canvas.getBoundingClientRect();
    const w = state.width || canvas.width;
    const h = state.height || canvas.height;
    const x = Math.round(((e.clientX - r.left) / r.width) * w);
    const y = Math.round(((e.clientY - r.top) / r.height) * h);
    return { x: Math.max(0, Math.min(w - 1, x)),
             y: Math.max(0, Math.min(h - 1, y)) };
  }

  canvas.addEventListener('keydown', (e) => {
    e.preventDefault();
    send({ type: 'key', action: 'down', code: e.code });
  });
  canvas.addEventListener('keyup', (e) => {
    e.preventDefault();
    send({ type: 'key', action: 'up', code: e.code });
  });
  canvas.addEventListener('pointermove', (e) => {
    const p = videoCoords(e);
    send({ type: 'pointer', action: 'move', x: p.x, y: p.y,
           button: e.button < 0 ? 0 : e.button });
  });
  canvas.addEventListener('pointerdown', (e) => {
    canvas.focus();
    canvas.setPointerCapture(e.pointerId);
    const p = videoCoords(e);
    send({ type: 'pointer', action: 'down', x: p.x, y: p.y, button: e.button });
    e.preventDefault();
  });
  canvas.addEventListener('pointerup', (e) => {
    const p = videoCoords(e);
    send({ type: 'pointer', action: 'up', x: p.x, y: p.y, button: e.button });
    e.preventDefault();
  });
  canvas.addEventListener('wheel', (e) => {
    const p = videoCoords(e);
    send({ type: 'wheel', x: p.x, y: p.y, dx: e.deltaX, dy: e.deltaY });
    e.preventDefault();
  }, { passive: false });
  canvas.addEventListener('contextmenu', (e) => e.preventDefault());

  // ---- overlay: fps, bitrate, decode queue, latency ----
  let bitrateBytes = 0;
  let lastFrames = 0;
  let lastTick = performance.now();
  setInterval(() => {
    const now = performance.now();
    const dt = (now - lastTick) / 1000;
    const fps = (state.decodedFrames - lastFrames) / dt;
    const kbps = (bitrateBytes * 8) / 1000 / dt;
    lastTick = now;
    lastFrames = state.decodedFrames;
    bitrateBytes = 0;
    state.decodeQueue = decoder ? decoder.decodeQueueSize : 0;
    state.fps = fps;
    const lat = state.latencyMs === null ? 'n/a'
        : `${state.latencyMs.toFixed(0)} ms (${state.latencyKind === 'capture'
            ? 'capture→paint' : 'sink→paint'})`;
    overlay.textContent =
        `${state.decodedWidth}x${state.decodedHeight} ${state.codec || ''}\n` +
        `fps      ${fps.toFixed(1)}\n` +
        `bitrate  ${kbps.toFixed(0)} kbit/s\n` +
        `decode q ${state.decodeQueue}\n` +
        `latency  ${lat}\n` +
        `frames   ${state.decodedFrames} (skipped ${state.skippedFrames})`;
  }, 1000);

  if (!window.isSecureContext) {
    tell('insecure', `This page is not a secure context (${location.origin}): ` +
         'browsers decode video with WebCodecs only on https:// pages or on ' +
         'localhost / 127.0.0.1. Open it over https (the supervisor\'s TLS) ' +
         'or through localhost.');
    setStatus('not a secure context');
    state.lastError = 'not a secure context';
  } else if (typeof VideoDecoder === 'undefined') {
    tell('no-webcodecs', 'This browser has no WebCodecs VideoDecoder, which ' +
         'the player needs: use a current Chromium, Chrome, Edge, Safari or ' +
         'Firefox.');
    setStatus('no WebCodecs');
    state.lastError = 'no VideoDecoder';
  } else {
    connect();
  }
})();
