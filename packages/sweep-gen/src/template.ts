/**
 * Placeholder templates: `{key}` is replaced by a parameter's text; `{{` and `}}` are literal braces.
 * Used for run names, groups, directories and command words.
 */
export type TemplatePart = string | { key: string };

export interface Template {
  text: string;
  parts: TemplatePart[];
  keys: string[];
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export class TemplateSyntaxError extends Error {}

export function parseTemplate(text: string): Template {
  const parts: TemplatePart[] = [];
  let literal = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "{" && text[i + 1] === "{") {
      literal += "{";
      i += 2;
    } else if (c === "}" && text[i + 1] === "}") {
      literal += "}";
      i += 2;
    } else if (c === "{") {
      const end = text.indexOf("}", i);
      if (end < 0) throw new TemplateSyntaxError(`unclosed "{" at position ${i + 1} (write "{{" for a literal brace)`);
      const key = text.slice(i + 1, end).trim();
      if (!KEY.test(key)) throw new TemplateSyntaxError(`bad placeholder {${key}}: expected a parameter name like {lr}`);
      if (literal) parts.push(literal);
      literal = "";
      parts.push({ key });
      i = end + 1;
    } else if (c === "}") {
      throw new TemplateSyntaxError(`unmatched "}" at position ${i + 1} (write "}}" for a literal brace)`);
    } else {
      literal += c;
      i++;
    }
  }
  if (literal) parts.push(literal);
  const keys = [...new Set(parts.filter((p): p is { key: string } => typeof p !== "string").map((p) => p.key))];
  return { text, parts, keys };
}

/** Renders a template; `lookup` returns the text for a key (callers check keys exist beforehand). */
export function renderTemplate(t: Template, lookup: (key: string) => string): string {
  let out = "";
  for (const p of t.parts) out += typeof p === "string" ? p : lookup(p.key);
  return out;
}
