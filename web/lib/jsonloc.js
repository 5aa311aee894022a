// A small strict JSON reader that remembers where things are.
//
// JSON.parse is fast but its error messages differ between browsers and do not name a line and
// column everywhere. This reader is used for the editor: on success it returns the value and the
// source range of every member, keyed by the path the server uses in its messages
// (`shapes[1].radius`); on failure it returns the line and column of the first problem.

/** @typedef {{start: number, end: number, keyStart?: number}} Range */

export class JsonSyntaxError extends Error {
  constructor(message, offset, text) {
    const { line, column } = lineColumn(text, offset);
    super(`${message} at line ${line}, column ${column}`);
    this.reason = message;
    this.offset = offset;
    this.line = line;
    this.column = column;
  }
}

/** 1-based line and column of `offset` in `text`. */
export function lineColumn(text, offset) {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/** Joins a parent path and a key or index the way the server writes field paths. */
export function childPath(parent, key) {
  if (typeof key === 'number') return `${parent}[${key}]`;
  const plain = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key);
  if (!plain) return `${parent}[${JSON.stringify(key)}]`;
  return parent ? `${parent}.${key}` : key;
}

/**
 * Parses `text` strictly. Returns `{ value, ranges }` where `ranges` maps each path ('' is the
 * root) to its source range. Throws JsonSyntaxError with line and column.
 */
export function parseWithLocations(text) {
  const ranges = new Map();
  let i = 0;

  const fail = (msg, at = i) => {
    throw new JsonSyntaxError(msg, at, text);
  };
  const describe = (at) => {
    if (at >= text.length) return 'end of input';
    const ch = text[at];
    return ch === '\n' ? 'a line break' : `'${ch}'`;
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };

  const parseString = () => {
    const start = i;
    i++; // opening quote
    let out = '';
    let chunk = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 34) {
        out += text.slice(chunk, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in string (use \\n or \\t)');
      if (c === 92) {
        out += text.slice(chunk, i);
        const e = text[i + 1];
        const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e in simple) {
          out += simple[e];
          i += 2;
        } else if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape, expected 4 hex digits');
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else {
          fail(`bad escape '\\${e ?? ''}'`);
        }
        chunk = i;
        continue;
      }
      i++;
    }
  };

  const parseNumber = () => {
    const re = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) fail(`expected a value but found ${describe(i)}`);
    i += m[0].length;
    const next = text[i];
    if (next !== undefined && /[0-9A-Za-z.]/.test(next)) fail(`malformed number`);
    return Number(m[0]);
  };

  const parseValue = (path, depth) => {
    if (depth > 512) fail('nesting too deep');
    ws();
    const start = i;
    const c = text[i];
    let value;
    if (c === '{') value = parseObject(path, depth);
    else if (c === '[') value = parseArray(path, depth);
    else if (c === '"') value = parseString();
    else if (c === '-' || (c >= '0' && c <= '9')) value = parseNumber();
    else if (text.startsWith('true', i)) (value = true), (i += 4);
    else if (text.startsWith('false', i)) (value = false), (i += 5);
    else if (text.startsWith('null', i)) (value = null), (i += 4);
    else if (c === "'") fail('strings must use double quotes');
    else if (c === undefined) fail('unexpected end of input, expected a value');
    else fail(`expected a value but found ${describe(i)}`);
    const prev = ranges.get(path);
    ranges.set(path, { ...prev, start, end: i });
    return value;
  };

  const parseObject = (path, depth) => {
    i++;
    const obj = {};
    ws();
    if (text[i] === '}') {
      i++;
      return obj;
    }
    let comma = -1;
    for (;;) {
      ws();
      if (text[i] !== '"') {
        if (text[i] === '}' && comma >= 0) fail('trailing comma before }', comma);
        fail(`expected a property name in double quotes but found ${describe(i)}`);
      }
      const keyStart = i;
      const key = parseString();
      ws();
      if (text[i] !== ':') fail(`expected ':' after property name "${key}" but found ${describe(i)}`);
      i++;
      const p = childPath(path, key);
      ranges.set(p, { keyStart, start: keyStart, end: keyStart });
      obj[key] = parseValue(p, depth + 1);
      ws();
      if (text[i] === ',') {
        comma = i;
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return obj;
      }
      fail(`expected ',' or '}' after property value but found ${describe(i)}`);
    }
  };

  const parseArray = (path, depth) => {
    i++;
    const arr = [];
    ws();
    if (text[i] === ']') {
      i++;
      return arr;
    }
    let comma = -1;
    for (;;) {
      ws();
      if (text[i] === ']' && comma >= 0) fail('trailing comma before ]', comma);
      arr.push(parseValue(childPath(path, arr.length), depth + 1));
      ws();
      if (text[i] === ',') {
        comma = i;
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return arr;
      }
      fail(`expected ',' or ']' after array element but found ${describe(i)}`);
    }
  };

  const value = parseValue('', 0);
  ws();
  if (i < text.length) fail(`unexpected ${describe(i)} after the end of the JSON value`);
  return { value, ranges };
}

/**
 * Finds the source range for a server field path such as `shapes[1].radius`, walking up to the
 * nearest parent that exists (a missing field is reported at its object).
 */
export function findRange(ranges, path) {
  let p = path;
  for (;;) {
    const r = ranges.get(p);
    if (r) return { path: p, range: r, exact: p === path };
    if (!p) return null;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    p = cut <= 0 ? '' : p.slice(0, cut);
  }
}
