/**
 * Turns one raw log segment (the text between two `\r`/`\n`) into what a person would have seen:
 * ANSI colour and cursor codes removed (Keras 3 always writes them, tqdm nested bars move the
 * cursor), backspaces dropped (Keras redraws with `\b…\r`), and the launcher's rank prefixes
 * (`0: ` from srun --label, `[rank3]:` from torch, `[default3]:` from torchrun --tee,
 * `[1,0]<stderr>:` from Open MPI) stripped, keeping the rank so interleaved tracebacks of
 * different ranks are followed apart.
 */
const ANSI = /\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[()][A-Za-z0-9]|[=>NOMc78])/g;
const RANK_PREFIX =
  /^\s{0,2}(?:(\d{1,5}): |\[rank(\d+)\]: ?|\[default(\d+)\]: ?|\[trainer\d+\|(\d+)\]: ?|\[\d+,(\d+)\]<std(?:out|err)>: ?)/;

export interface CleanSegment {
  text: string;
  /** Rank from a stripped prefix; "" when the line had none. */
  rank: string;
}

export function cleanSegment(raw: string): CleanSegment {
  let text = raw;
  if (text.includes("\x1b")) text = text.replace(ANSI, "");
  if (text.includes("\b")) text = text.replaceAll("\b", "");
  let rank = "";
  const c = text.charCodeAt(0);
  // Cheap gate: prefixes start with a digit, '[' or (indented) space.
  if ((c >= 48 && c <= 57) || c === 91 || c === 32) {
    for (let i = 0; i < 3; i++) {
      const m = RANK_PREFIX.exec(text);
      if (!m) break;
      rank = m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5] ?? rank;
      text = text.slice(m[0].length);
    }
  }
  return { text, rank };
}
