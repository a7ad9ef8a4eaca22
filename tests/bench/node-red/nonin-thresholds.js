// Node-RED function node: Nonin Data Format 2 (5-byte frames, 25 to a packet) to SpO2 and pulse, then
// the same three threshold rules with hysteresis as the gateway's benchmark config. One MQTT message per
// raise or resolve. This is what a care organisation would write itself; no store, no encryption.
const rules = [
  { id: 'spo2-low', metric: 'spo2', below: 90, hysteresis: 2 },
  { id: 'spo2-critical', metric: 'spo2', below: 85, hysteresis: 2 },
  { id: 'pulse-high', metric: 'pulse_rate', above: 120, hysteresis: 5 },
];
const buffer = Buffer.concat([context.get('buffer') || Buffer.alloc(0), msg.payload]);
let frame = context.get('frame') || 0;
const table = context.get('table') || new Array(26).fill(0);
const open = context.get('open') || {};
const out = [];

function alert(rule, change, value) {
  return {
    topic: 'ehealth/v1/0301/node-red/event/alert',
    payload: JSON.stringify({ rule: rule.id, change: change, value: value, time: new Date().toISOString() }),
  };
}

function evaluate(metric, value) {
  for (const rule of rules) {
    if (rule.metric !== metric) continue;
    const below = rule.below !== undefined;
    const breached = below ? value < rule.below : value > rule.above;
    const cleared = below ? value >= rule.below + rule.hysteresis : value <= rule.above - rule.hysteresis;
    if (!open[rule.id] && breached) {
      open[rule.id] = true;
      out.push(alert(rule, 'raised', value));
    } else if (open[rule.id] && cleared) {
      open[rule.id] = false;
      out.push(alert(rule, 'resolved', value));
    }
  }
}

let at = 0;
while (buffer.length - at >= 5) {
  const start = buffer[at];
  const status = buffer[at + 1];
  const sum = (start + status + buffer[at + 2] + buffer[at + 3]) & 0xff;
  if (start !== 0x01 || (status & 0x80) === 0 || sum !== buffer[at + 4]) {
    at += 1; // not a frame: slide one byte
    continue;
  }
  const slot = buffer[at + 3] & 0x7f;
  at += 5;
  if (status & 0x01) frame = 1;
  else if (frame > 0) frame += 1;
  else continue; // not yet in step with the packets
  table[frame] = slot;
  if (frame === 25) {
    frame = 0;
    const pulse = ((table[1] & 0x03) << 7) | table[2];
    const spo2 = table[3];
    if (spo2 !== 127) evaluate('spo2', spo2);
    if (pulse !== 511) evaluate('pulse_rate', pulse);
  }
}
context.set('buffer', buffer.subarray(at));
context.set('frame', frame);
context.set('table', table);
context.set('open', open);
return [out];
