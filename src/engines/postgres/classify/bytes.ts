/**
 * Scanning SQL text byte by byte (the parser's locations are byte offsets into the UTF-8 text):
 * where a statement's text begins, where a string literal ends, which words are at the top level.
 */

/** Where a statement's text begins: after the blanks and comments its location includes. */
export function sqlStart(bytes: Buffer, from: number): number {
  let i = from;
  while (i < bytes.length) {
    const c = bytes[i];
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c) i++;
    else if (c === 0x2d && bytes[i + 1] === 0x2d) {
      while (i < bytes.length && bytes[i] !== 0x0a) i++;
    } else if (c === 0x2f && bytes[i + 1] === 0x2a) i = blockCommentEnd(bytes, i);
    else break;
  }
  return i;
}

/** Where the block comment that starts at `from` ends (after its closing star-slash); they nest, as in PostgreSQL. */
export function blockCommentEnd(bytes: Buffer, from: number): number {
  let i = from;
  let depth = 0;
  while (i < bytes.length) {
    if (bytes[i] === 0x2f && bytes[i + 1] === 0x2a) {
      depth++;
      i += 2;
    } else if (bytes[i] === 0x2a && bytes[i + 1] === 0x2f) {
      depth--;
      i += 2;
      if (depth === 0) break;
    } else i++;
  }
  return i;
}

/** The byte span of the first string literal at or after `from` ('…', E'…', U&'…', $tag$…$tag$). */
export function literalSpan(bytes: Buffer, from: number, limit: number): [number, number] | null {
  for (let i = Math.max(0, from); i < limit; i++) {
    const c = bytes[i];
    if (c === 0x27) {
      const escapes = i > 0 && (bytes[i - 1] === 0x45 || bytes[i - 1] === 0x65);
      for (let j = i + 1; j < limit; j++) {
        if (escapes && bytes[j] === 0x5c) j++;
        else if (bytes[j] === 0x27) {
          if (bytes[j + 1] === 0x27) j++;
          else return [i, j + 1];
        }
      }
      return [i, limit];
    }
    if (c === 0x24) {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(
        bytes.subarray(i, Math.min(limit, i + 64)).toString("latin1"),
      );
      if (!tag) continue;
      const close = bytes.indexOf(tag[0], i + tag[0].length, "latin1");
      return [i, close < 0 || close >= limit ? limit : close + tag[0].length];
    }
  }
  return null;
}

/** Words outside strings, quoted identifiers, comments and parentheses, with their byte offsets. */
export function topLevelWords(bytes: Buffer): { word: string; at: number }[] {
  const words: { word: string; at: number }[] = [];
  let depth = 0;
  for (let i = 0; i < bytes.length;) {
    const c = bytes[i] ?? 0;
    if (c === 0x27 || c === 0x22) {
      for (i++; i < bytes.length; i++) {
        if (bytes[i] === c) {
          if (bytes[i + 1] === c) i++;
          else break;
        } else if (c === 0x27 && bytes[i] === 0x5c) i++;
      }
      i++;
    } else if (c === 0x2d && bytes[i + 1] === 0x2d) {
      while (i < bytes.length && bytes[i] !== 0x0a) i++;
    } else if (c === 0x2f && bytes[i + 1] === 0x2a) {
      const close = bytes.indexOf("*/", i + 2, "latin1");
      i = close < 0 ? bytes.length : close + 2;
    } else if (c === 0x24) {
      const span = literalSpan(bytes, i, bytes.length);
      i = span && span[0] === i ? span[1] : i + 1;
    } else if (c === 0x28) {
      depth++;
      i++;
    } else if (c === 0x29) {
      depth--;
      i++;
    } else if (/[A-Za-z_]/.test(String.fromCharCode(c))) {
      const start = i;
      while (i < bytes.length && /[A-Za-z0-9_$]/.test(String.fromCharCode(bytes[i] ?? 0))) i++;
      if (depth === 0)
        words.push({ word: bytes.subarray(start, i).toString("latin1").toLowerCase(), at: start });
    } else i++;
  }
  return words;
}
