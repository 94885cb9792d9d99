// GptWsDaemon client, served at /gptws.js: a plain ES module, no build step (protocol.md §4.5 "Resumable streams").
//
//   import { GptWsClient } from '/gptws.js';
//   const client = new GptWsClient('wss://chat.example.com/ws', { token: 'T' });
//   client.connect();
//   const stream = client.request({ query: 'Hello?' });          // resumable by default
//   for await (const frame of stream) console.log(frame.data.contents);
//
// The socket reconnects by itself with backoff (0.5 s, 1 s, 2 s … 10 s, with jitter). A resumable stream cut off by a
// dropped connection is resumed on the new one from its last data.n: the iterator sees every frame once, in order, to
// exactly one final frame. A stream that cannot be resumed ends with a frame of code 'lost'.

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // an HTTP token (RFC 7230) can ride as a subprotocol

/** One answer: an async iterator of its frames (content frames, then one final or error frame). */
export class GptWsStream {
  #queue = [];
  #waiting = null;
  #ended = false;

  constructor(client, seq, data, resumable) {
    this.client = client;
    this.seq = seq;
    this.data = data;
    this.resumable = resumable;
    this.streamId = null;   // data.stream_id of the first frame
    this.lastN = 0;         // the last data.n received
    this.resumes = 0;       // how many times it was resumed
    this.done = new Promise((resolve) => { this.#resolveDone = resolve; });
  }

  #resolveDone;

  /** True once its final (or error) frame was delivered. */
  get ended() { return this.#ended; }

  /** Asks the daemon to stop this answer: its final frame says cancelled. */
  cancel() { return this.client.send({ seq: this.seq, action: 'cancel' }); }

  [Symbol.asyncIterator]() {
    return {
      next: () => {
        if (this.#queue.length) return Promise.resolve({ value: this.#queue.shift(), done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => { this.#waiting = resolve; });
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }

  /** A frame of this stream arrived (called by the client); false when it was a duplicate. */
  push(frame) {
    const data = (frame && typeof frame.data === 'object' && frame.data) || {};
    if (typeof data.n === 'number') {
      if (data.n <= this.lastN) return false; // a replayed frame already seen
      this.lastN = data.n;
    }
    if (data.stream_id) this.streamId = data.stream_id;
    const final = frame.code !== 0 || data.finish_reason != null;
    if (final) this.#ended = true;
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = null;
      w({ value: frame, done: false });
    } else {
      this.#queue.push(frame);
    }
    if (final) {
      this.#resolveDone(frame);
      if (this.#waiting) { const w = this.#waiting; this.#waiting = null; w({ value: undefined, done: true }); }
    }
    return true;
  }
}

/**
 * A connection to the daemon. Events (EventTarget): 'state' {state, attempt, delay, reason, url, protocol},
 * 'frame' {dir: 'in'|'out', text, frame} for every frame either way, 'resume' {stream, after}, and 'other' {frame}
 * for incoming frames of no open stream (pongs, errors without a seq).
 */
export class GptWsClient extends EventTarget {
  #url;
  #token;
  #ws = null;
  #want = false;
  #attempt = 0;
  #timer = 0;
  #seqCounter = 0;
  #streams = new Map(); // seq -> GptWsStream, until its final frame

  /** url and token may be functions, read again at every (re)connect. */
  constructor(url, { token = '', backoff = { base: 500, max: 10000 } } = {}) {
    super();
    this.#url = url;
    this.#token = token;
    this.backoff = backoff;
    this.state = 'closed';
  }

  /** Opens the socket (and keeps reopening it until close()). */
  connect() {
    this.#want = true;
    this.#attempt = 0;
    clearTimeout(this.#timer);
    this.#open();
  }

  /** Closes for good: streams still open end with a 'lost' frame. */
  close() {
    this.#want = false;
    clearTimeout(this.#timer);
    this.#drop();
    this.#failAll(() => true, 'closed by the client');
    this.#setState('closed', {});
  }

  /** True when frames can be sent now. */
  get open() { return !!this.#ws && this.#ws.readyState === WebSocket.OPEN; }

  /** Sends a frame (an object, or text as is); false when not connected. */
  send(frame) {
    if (!this.open) return false;
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
    this.#ws.send(text);
    this.#emit('frame', { dir: 'out', text, frame: typeof frame === 'string' ? null : frame });
    return true;
  }

  /** Sends {"action":"ping"}; the pong comes as an 'other' event. */
  ping() { return this.send({ action: 'ping' }); }

  /** Starts an answer; its frames come through the returned stream. Not connected: the stream ends 'lost' at once. */
  request(data, { seq = `js-${Date.now().toString(36)}-${++this.#seqCounter}`, resumable = true } = {}) {
    const stream = new GptWsStream(this, seq, resumable ? { ...data, resumable: true } : data, resumable);
    this.#streams.set(String(seq), stream);
    if (!this.send({ seq, data: stream.data })) this.#fail(stream, 'not connected');
    return stream;
  }

  #open() {
    let url;
    let protocols = ['gptws'];
    try {
      url = new URL(typeof this.#url === 'function' ? this.#url() : this.#url, globalThis.location?.href);
      if (url.protocol === 'http:') url.protocol = 'ws:';
      if (url.protocol === 'https:') url.protocol = 'wss:';
      const token = String((typeof this.#token === 'function' ? this.#token() : this.#token) || '').trim();
      // The token rides as an offered subprotocol (never selected): a ?token= ends up in proxy logs.
      if (token && TOKEN.test(token)) protocols = ['gptws', 'bearer.' + token];
      else if (token) url.searchParams.set('token', token);
    } catch (e) {
      this.#want = false;
      this.#setState('closed', { reason: 'bad URL: ' + e.message });
      return;
    }
    let sock;
    try {
      sock = new WebSocket(url.href, protocols);
    } catch (e) {
      this.#want = false;
      this.#setState('closed', { reason: 'bad URL: ' + e.message });
      return;
    }
    sock.binaryType = 'arraybuffer';
    this.#ws = sock;
    let opened = false;
    this.#setState('connecting', { attempt: this.#attempt + 1, url });
    sock.onopen = () => {
      if (this.#ws !== sock) return;
      opened = true;
      this.#attempt = 0;
      this.#setState('connected', { url, protocol: sock.protocol, tokenOffered: protocols.length > 1 });
      this.#resumeAll();
    };
    sock.onmessage = (ev) => {
      if (this.#ws !== sock) return;
      this.#received(typeof ev.data === 'string' ? ev.data : new TextDecoder().decode(ev.data));
    };
    sock.onclose = (ev) => {
      if (this.#ws !== sock) return;
      this.#ws = null;
      // Streams that can come back wait for the next socket; the others end here.
      this.#failAll((s) => !(s.resumable && s.streamId), 'connection lost');
      if (!this.#want) { this.#setState('closed', { code: ev.code, reason: ev.reason }); return; }
      const delay = Math.min(this.backoff.max, this.backoff.base * 2 ** this.#attempt) * (0.8 + Math.random() * 0.4);
      this.#attempt++;
      this.#setState('reconnecting', { attempt: this.#attempt, delay, wasOpen: opened, code: ev.code, reason: ev.reason, url });
      this.#timer = setTimeout(() => this.#open(), delay);
    };
  }

  #drop() {
    const old = this.#ws;
    if (!old) return;
    this.#ws = null;
    old.onclose = old.onmessage = old.onopen = null;
    try { old.close(1000, 'bye'); } catch { /* already closed */ }
  }

  #received(text) {
    let frame;
    try { frame = JSON.parse(text); } catch { frame = null; }
    this.#emit('frame', { dir: 'in', text, frame });
    const stream = frame && frame.seq != null ? this.#streams.get(String(frame.seq)) : undefined;
    if (!stream) { this.#emit('other', { frame, text }); return; }
    stream.push(frame);
    if (stream.ended) this.#streams.delete(stream.seq);
  }

  /** protocol.md §4.5: every stream the last socket cut off asks for the frames after the last n it has. */
  #resumeAll() {
    for (const s of this.#streams.values()) {
      if (!s.resumable || !s.streamId || s.ended) continue;
      s.resumes++;
      this.#emit('resume', { stream: s, after: s.lastN });
      this.send({ seq: s.seq, action: 'resume', stream_id: s.streamId, after: s.lastN });
    }
  }

  #failAll(which, why) {
    for (const s of [...this.#streams.values()]) if (which(s)) this.#fail(s, why);
  }

  #fail(stream, why) {
    this.#streams.delete(String(stream.seq));
    stream.push({ code: 'lost', msg: why, seq: stream.seq, data: { finish_reason: 'error', contents: '' } });
  }

  #setState(state, detail) {
    this.state = state;
    this.#emit('state', { state, ...detail });
  }

  #emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }
}
