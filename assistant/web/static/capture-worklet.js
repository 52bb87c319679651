// Hands the microphone's samples to the page in blocks of about 100 ms, as float32; "flush" sends
// what is left at once (the button was released) followed by "flushed".
class Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buf = []; this.size = 0; this.block = Math.round(sampleRate / 10);
    this.port.onmessage = (e) => { if (e.data === "flush") { this.send(); this.port.postMessage("flushed"); } };
  }
  send() {
    if (!this.size) return;
    const out = new Float32Array(this.size); let o = 0;
    for (const b of this.buf) { out.set(b, o); o += b.length; }
    this.port.postMessage(out, [out.buffer]); this.buf = []; this.size = 0;
  }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) {
      this.buf.push(new Float32Array(ch)); this.size += ch.length;
      if (this.size >= this.block) this.send();
    }
    return true;
  }
}
registerProcessor("capture", Capture);
