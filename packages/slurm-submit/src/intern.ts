/**
 * One copy of each repeated string or string list: the 1,000 tasks of an array share their script
 * path, array id, job name, timestamps and argv, and JSON.parse would give each task its own copies.
 */
export class StringPool {
  private readonly strings = new Map<string, string>();
  private readonly lists = new Map<string, string[]>();

  get(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    this.strings.set(s, s);
    return s;
  }

  /** A shared list: callers must not change it. */
  list(a: string[]): string[] {
    const key = a.join("\0");
    const known = this.lists.get(key);
    if (known !== undefined && known.length === a.length) return known;
    const pooled = a.map((s) => this.get(s));
    this.lists.set(key, pooled);
    return pooled;
  }
}
