import { readdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type protobuf from "protobufjs/light.js";
import type { RunAnalysis } from "./analyzer.ts";
import { NOT_METRICS, metricName } from "./metrics.ts";
import { findNewestFile } from "./newest-file.ts";
import { openLog } from "./open.ts";

/**
 * TensorBoard event files (`events.out.tfevents.<time>.<host>...`, written by tensorboardX,
 * torch.utils.tensorboard, TensorFlow, Lightning's and HF Trainer's TensorBoard loggers): a TFRecord
 * stream of `Event` protos. Each record is
 *   uint64 length (little-endian) | uint32 masked CRC32C of those 8 bytes | data | uint32 masked CRC32C of data.
 * A scalar is a `Summary.Value` with `simple_value` (tensorboardX, PyTorch) or a rank-0 float `tensor`
 * (TF2's `tf.summary.scalar`, plugin "scalars"). The protos are decoded by protobufjs from the
 * schema below (the fields of tensorflow/core/util/event.proto, summary.proto and tensor.proto that
 * carry scalars; protobuf skips the others).
 */
const SCHEMA = {
  nested: {
    Event: {
      fields: {
        wall_time: { type: "double", id: 1 },
        step: { type: "int64", id: 2 },
        file_version: { type: "string", id: 3 },
        summary: { type: "Summary", id: 5 },
      },
    },
    Summary: { fields: { value: { rule: "repeated", type: "Value", id: 1 } } },
    Value: {
      fields: {
        tag: { type: "string", id: 1 },
        simple_value: { type: "float", id: 2 },
        node_name: { type: "string", id: 7 },
        tensor: { type: "Tensor", id: 8 },
        metadata: { type: "Metadata", id: 9 },
      },
      oneofs: { value: { oneof: ["simple_value", "tensor"] } },
    },
    Metadata: { fields: { plugin_data: { type: "PluginData", id: 1 } } },
    PluginData: { fields: { plugin_name: { type: "string", id: 1 } } },
    Tensor: {
      fields: {
        dtype: { type: "int32", id: 1 },
        tensor_shape: { type: "Shape", id: 2 },
        tensor_content: { type: "bytes", id: 4 },
        float_val: { rule: "repeated", type: "float", id: 5 },
        double_val: { rule: "repeated", type: "double", id: 6 },
        int_val: { rule: "repeated", type: "int32", id: 7 },
        half_val: { rule: "repeated", type: "int32", id: 13 },
      },
    },
    Shape: { fields: { dim: { rule: "repeated", type: "Dim", id: 2 } } },
    Dim: { fields: { size: { type: "int64", id: 1 } } },
  },
};
let eventType: Promise<protobuf.Type> | undefined;
/** protobufjs is loaded for the first event file, not at start-up: a run without one never reads its 95 KB (bench 8: a cron tick's start). */
const loadEventType = () => (eventType ??= import("protobufjs/light.js").then((m) => m.default.Root.fromJSON(SCHEMA).lookupType("Event")));

interface TensorMsg {
  dtype?: number;
  tensor_shape?: { dim?: unknown[] };
  tensor_content?: Uint8Array;
  float_val?: number[];
  double_val?: number[];
  int_val?: number[];
  half_val?: number[];
}
interface ValueMsg {
  tag?: string;
  simple_value?: number;
  tensor?: TensorMsg;
  metadata?: { plugin_data?: { plugin_name?: string } };
}
interface EventMsg {
  step?: number | { toNumber(): number };
  summary?: { value?: ValueMsg[] };
}

const HEADER = 12;
/** An event is a few hundred bytes; a length beyond this is a corrupt (or not a TFRecord) file. */
const MAX_RECORD = 64 * 1024 * 1024;
const MAX_FILE_BYTES = 1024 * 1024 * 1024;
const MAX_FILES = 64;
const CHUNK = 1 << 20;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), as TFRecord uses. */
export function crc32c(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let c = 0xffffffff;
  for (let i = from; i < to; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15, add a constant (so a CRC of CRCs is not trivial). */
export function maskedCrc32c(bytes: Uint8Array, from = 0, to = bytes.length): number {
  const c = crc32c(bytes, from, to);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

export interface TfeventsRead {
  /** The directory read (the newest event file's, with the others beside it). */
  path: string;
  files: number;
  records: number;
  points: number;
  bytes: number;
  /** What was not read, naming the file: a truncated last record, a CRC mismatch. */
  note?: string;
}

const IS_EVENTS = (name: string) => name.startsWith("events.out.tfevents.");

/** The newest event file under `dir` (breadth-first, at most 5 levels and 500 directories). */
export async function findNewestEvents(dir: string): Promise<string | undefined> {
  return findNewestFile(dir, IS_EVENTS, 5);
}

/**
 * HF Trainer's and Lightning's tags in the names the console and trainer_state.json use:
 * `train/loss` -> `loss`, `train/learning_rate` -> `lr`, `eval/loss` -> `eval_loss`.
 */
export function tagName(tag: string): string {
  if (tag.startsWith("train/")) return metricName(tag.slice(6));
  if (tag.startsWith("eval/")) return metricName(`eval_${tag.slice(5)}`);
  return metricName(tag);
}

/** The value of a rank-0 numeric tensor (TF2 scalar summaries), or undefined. */
function tensorScalar(t: TensorMsg): number | undefined {
  if ((t.tensor_shape?.dim?.length ?? 0) > 0) return undefined;
  if (t.float_val?.length) return float32Value(t.float_val[0]!);
  if (t.double_val?.length) return t.double_val[0];
  const c = t.tensor_content;
  if (c && c.length > 0) {
    const view = new DataView(c.buffer, c.byteOffset, c.byteLength);
    if (t.dtype === 1 && c.length >= 4) return float32Value(view.getFloat32(0, true)); // DT_FLOAT
    if (t.dtype === 2 && c.length >= 8) return view.getFloat64(0, true); // DT_DOUBLE
    if (t.dtype === 3 && c.length >= 4) return view.getInt32(0, true); // DT_INT32
  }
  if (t.dtype === 3 && t.int_val?.length) return t.int_val[0];
  return undefined;
}

/** The event files in the directory of `newest`, by name (their names start with the time they were opened). */
export async function eventFilesBeside(newest: string): Promise<string[]> {
  const dir = dirname(newest);
  const names = (await readdir(dir, { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isFile() && IS_EVENTS(e.name))
    .map((e) => e.name)
    .sort()
    .slice(-MAX_FILES);
  if (!names.includes(basename(newest))) names.push(basename(newest));
  return names.map((n) => join(dir, n));
}

/** Reads every event file in the directory of `newest` (a run restarted writes a new one beside it). */
export async function readTfevents(newest: string, run: RunAnalysis): Promise<TfeventsRead> {
  const dir = dirname(newest);
  const out: TfeventsRead = { path: dir, files: 0, records: 0, points: 0, bytes: 0 };
  const notes: string[] = [];
  for (const file of await eventFilesBeside(newest)) {
    const r = await readEventFile(file, run);
    out.files += 1;
    out.records += r.records;
    out.points += r.points;
    out.bytes += r.bytes;
    if (r.note) notes.push(r.note);
  }
  return notes.length > 0 ? { ...out, note: notes.join("; ") } : out;
}

/** One event file, record by record, up to its size when opened; stops (with a note) at the first bad record. */
export async function readEventFile(path: string, run: RunAnalysis): Promise<{ records: number; points: number; bytes: number; note?: string }> {
  const opened = await openLog(path);
  if (!opened.ok) return { records: 0, points: 0, bytes: 0, note: opened.exists ? opened.message : `${path}: no such file` };
  const EventType = await loadEventType();
  const size = Math.min(opened.size, MAX_FILE_BYTES);
  let records = 0;
  let points = 0;
  let pos = 0;
  let buf = Buffer.alloc(0);
  let bufAt = 0; // file offset of buf[0]
  const need = async (n: number): Promise<boolean> => {
    // Makes buf hold bytes [pos, pos + n) of the file; false when the file ends first.
    if (pos + n > size) return false;
    if (pos >= bufAt && pos + n <= bufAt + buf.length) return true;
    const len = Math.max(n, Math.min(CHUNK, size - pos));
    const b = Buffer.alloc(len);
    const { bytesRead } = await opened.handle.read(b, 0, len, pos);
    buf = b.subarray(0, bytesRead);
    bufAt = pos;
    return bytesRead >= n;
  };
  const at = (what: string) => `${path}: ${what} at byte ${pos} (a run still writing, or killed): read its ${records} complete records`;
  let note: string | undefined;
  try {
    while (pos < size) {
      if (!(await need(HEADER))) {
        note = at("ends inside a record header");
        break;
      }
      const h = pos - bufAt;
      const len = buf.readUInt32LE(h) + buf.readUInt32LE(h + 4) * 2 ** 32;
      if (buf.readUInt32LE(h + 8) !== maskedCrc32c(buf, h, h + 8)) {
        note = `${path}: record length CRC mismatch at byte ${pos}: not a TFRecord file, or corrupt from there (read its ${records} complete records)`;
        break;
      }
      if (len > MAX_RECORD) {
        note = `${path}: a record of ${len} bytes at byte ${pos}: not read (events are small; the rest of the file was not read)`;
        break;
      }
      if (!(await need(HEADER + len + 4))) {
        note = at("ends inside a record");
        break;
      }
      const d = pos - bufAt + HEADER;
      if (buf.readUInt32LE(d + len) !== maskedCrc32c(buf, d, d + len)) {
        note = `${path}: record data CRC mismatch at byte ${pos}: corrupt from there (read its ${records} complete records)`;
        break;
      }
      let event: EventMsg;
      try {
        event = EventType.decode(buf.subarray(d, d + len)) as unknown as EventMsg;
      } catch (e) {
        note = `${path}: record at byte ${pos} is not an Event (${(e as Error).message}): the rest of the file was not read`;
        break;
      }
      records += 1;
      points += addEvent(event, run, path, records);
      pos += HEADER + len + 4;
    }
  } finally {
    await opened.handle.close();
  }
  if (!note && opened.size > MAX_FILE_BYTES) note = `${path}: read only the first ${MAX_FILE_BYTES} bytes`;
  return { records, points, bytes: pos, ...(note ? { note } : {}) };
}

/** The shortest decimal that is this float32 (simple_value is a float: 0.1 is stored as 0.100000001490116...). */
export function float32Value(v: number): number {
  if (!Number.isFinite(v)) return v;
  for (let p = 1; p <= 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

const has = (o: object, k: string) => Object.hasOwn(o, k);

function addEvent(event: EventMsg, run: RunAnalysis, path: string, record: number): number {
  const values = event.summary?.value;
  if (!values?.length) return 0;
  const s = event.step;
  const step = s === undefined ? undefined : typeof s === "number" ? s : s.toNumber();
  let n = 0;
  for (const v of values) {
    if (!v.tag) continue;
    const plugin = v.metadata?.plugin_data?.plugin_name;
    // Decoded fields are own properties; an absent one reads protobuf's default (0) from the prototype.
    const value = has(v, "simple_value") ? float32Value(v.simple_value!) : has(v, "tensor") && (!plugin || plugin === "scalars") ? tensorScalar(v.tensor!) : undefined;
    if (value === undefined) continue;
    const name = tagName(v.tag);
    if (NOT_METRICS.has(name)) continue;
    // `line` is the record's number in the file: where the value is, for evidence.
    run.metric(name, step, String(value), value, path, record);
    n += 1;
  }
  return n;
}
