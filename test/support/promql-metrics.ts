// The metric names a PromQL expression reads, found by tokenizing it: label
// names (by/without/on/ignoring/group_* lists, matchers), function and
// aggregation names, keywords, numbers, durations and strings are told apart
// from the names of the series selected. An expression this does not
// understand is an error, never a silent empty answer, so a dashboard or rule
// file cannot slip a metric past the check by being odd. Grafana's $variables
// are accepted where a duration goes (`[$__rate_interval]`) and inside label
// values (strings).

type Token =
  | { kind: 'ident'; text: string; pos: number }
  | { kind: 'number' | 'duration' | 'string' | 'range'; text: string; pos: number }
  | { kind: 'selector'; names: string[]; pos: number }
  | { kind: 'punct'; text: string; pos: number };

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);

const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max',
  'clamp_min', 'cos', 'cosh', 'count_over_time', 'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'deg', 'delta', 'deriv', 'end', 'exp',
  'floor', 'histogram_avg', 'histogram_count', 'histogram_fraction', 'histogram_quantile', 'histogram_stddev', 'histogram_stdvar', 'histogram_sum',
  'holt_winters', 'double_exponential_smoothing', 'hour', 'idelta', 'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln',
  'log10', 'log2', 'mad_over_time', 'max_over_time', 'min_over_time', 'minute', 'month', 'pi', 'predict_linear', 'present_over_time',
  'quantile_over_time', 'rad', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sin', 'sinh', 'sort', 'sort_by_label', 'sort_by_label_desc', 'sort_desc',
  'sqrt', 'start', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'tan', 'tanh', 'time', 'timestamp', 'vector', 'year',
]);

/** Keywords followed by a parenthesized list of label names. */
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
/** Binary set operators and modifiers that stand alone. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'atan2']);
const NUMBER_WORDS = new Set(['inf', 'nan']);

const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const NUMBER = /(0x[0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)/y;
const DURATION = /(\d+(ms|s|m|h|d|w|y))+/y;
/** A Grafana variable: $name or ${name} (with an optional :format). */
const VARIABLE = /\$(\{[a-zA-Z_][a-zA-Z0-9_]*(:[a-z]+)?\}|[a-zA-Z_][a-zA-Z0-9_]*)/y;
const OPERATORS = ['==', '!=', '>=', '<=', '=~', '!~', '+', '-', '*', '/', '%', '^', '>', '<'];
const MATCH_OPS = ['=~', '!~', '!=', '='];

class PromqlError extends Error {
  constructor(expr: string, pos: number, what: string) {
    super(`PromQL: ${what} at ${pos} in: ${expr}`);
  }
}

function match(re: RegExp, s: string, pos: number): string | undefined {
  re.lastIndex = pos;
  return re.exec(s)?.[0];
}

/** A quoted string starting at `pos` (", ' or `); returns its value and where it ends. */
function readString(expr: string, pos: number): { value: string; end: number } {
  const quote = expr[pos];
  let value = '';
  for (let i = pos + 1; i < expr.length; i++) {
    const c = expr[i];
    if (c === quote) return { value, end: i + 1 };
    if (c === '\n' && quote !== '`') break;
    if (c === '\\' && quote !== '`') {
      i++;
      value += expr[i] ?? '';
    } else value += c;
  }
  throw new PromqlError(expr, pos, 'unterminated string');
}

/** `[5m]`, `[5m:30s]`, `[$__rate_interval]`, `[1h:]`: a range or subquery, checked, not kept. */
function readRange(expr: string, pos: number): number {
  const close = expr.indexOf(']', pos);
  if (close < 0) throw new PromqlError(expr, pos, 'unclosed [');
  const parts = expr.slice(pos + 1, close).trim().split(':');
  const durationOk = (d: string) => {
    const t = d.trim();
    return (match(DURATION, t, 0) ?? match(VARIABLE, t, 0)) === t && t !== '';
  };
  if (parts.length > 2 || !durationOk(parts[0]) || (parts.length === 2 && parts[1].trim() !== '' && !durationOk(parts[1]))) {
    throw new PromqlError(expr, pos, `not a range: [${expr.slice(pos + 1, close)}]`);
  }
  return close + 1;
}

/** `{a="x", b=~"y"}`: label matchers; a `__name__="m"` matcher or a lone quoted name selects metric m. */
function readSelector(expr: string, pos: number): { names: string[]; end: number } {
  const names: string[] = [];
  let i = pos + 1;
  const skipSpace = () => {
    while (/\s/.test(expr[i] ?? '')) i++;
  };
  for (;;) {
    skipSpace();
    if (expr[i] === '}') return { names, end: i + 1 };
    let label: string;
    const quoted = expr[i] === '"' || expr[i] === "'";
    if (quoted) {
      const s = readString(expr, i);
      label = s.value;
      i = s.end;
    } else {
      const l = match(LABEL, expr, i);
      if (!l) throw new PromqlError(expr, i, 'expected a label name');
      label = l;
      i += l.length;
    }
    skipSpace();
    const op = MATCH_OPS.find((o) => expr.startsWith(o, i));
    if (!op) {
      // Prometheus 3: {"metric.name", job="x"}: a quoted name without an operator.
      if (!quoted) throw new PromqlError(expr, i, `label ${label} without a matcher`);
      names.push(label);
    } else {
      i += op.length;
      skipSpace();
      if (expr[i] !== '"' && expr[i] !== "'" && expr[i] !== '`') throw new PromqlError(expr, i, `label ${label}: expected a quoted value`);
      const s = readString(expr, i);
      i = s.end;
      if (label === '__name__') {
        if (op !== '=') throw new PromqlError(expr, i, '__name__ matched by pattern: the metrics it reads cannot be known');
        names.push(s.value);
      }
    }
    skipSpace();
    if (expr[i] === ',') i++;
    else if (expr[i] !== '}') throw new PromqlError(expr, i, 'expected , or }');
  }
}

export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      const nl = expr.indexOf('\n', i);
      i = nl < 0 ? expr.length : nl;
      continue;
    }
    const pos = i;
    if (c === '"' || c === "'" || c === '`') {
      const s = readString(expr, i);
      tokens.push({ kind: 'string', text: s.value, pos });
      i = s.end;
    } else if (c === '{') {
      const s = readSelector(expr, i);
      tokens.push({ kind: 'selector', names: s.names, pos });
      i = s.end;
    } else if (c === '[') {
      const end = readRange(expr, i);
      tokens.push({ kind: 'range', text: expr.slice(i, end), pos });
      i = end;
    } else if ('(),@'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, pos });
      i++;
    } else if (match(DURATION, expr, i) && !/[a-zA-Z0-9_]/.test(expr[i + match(DURATION, expr, i)!.length] ?? '')) {
      const d = match(DURATION, expr, i)!;
      tokens.push({ kind: 'duration', text: d, pos });
      i += d.length;
    } else if (/[0-9.]/.test(c) && match(NUMBER, expr, i)) {
      const n = match(NUMBER, expr, i)!;
      if (/[a-zA-Z_]/.test(expr[i + n.length] ?? '')) throw new PromqlError(expr, i, `bad number ${expr.slice(i, i + n.length + 1)}`);
      tokens.push({ kind: 'number', text: n, pos });
      i += n.length;
    } else if (c === '$') {
      const v = match(VARIABLE, expr, i);
      if (!v) throw new PromqlError(expr, i, 'bad variable');
      tokens.push({ kind: 'duration', text: v, pos });
      i += v.length;
    } else if (match(IDENT, expr, i)) {
      const id = match(IDENT, expr, i)!;
      tokens.push({ kind: 'ident', text: id, pos });
      i += id.length;
    } else {
      const op = OPERATORS.find((o) => expr.startsWith(o, i));
      if (!op) throw new PromqlError(expr, i, `unexpected ${JSON.stringify(c)}`);
      tokens.push({ kind: 'punct', text: op, pos });
      i += op.length;
    }
  }
  return tokens;
}

/** The label list after by/without/on/ignoring/group_*: returns the index after its ")". */
function skipLabelList(expr: string, tokens: Token[], open: number): number {
  let i = open + 1;
  for (;;) {
    const t = tokens[i];
    if (!t) throw new PromqlError(expr, expr.length, 'unclosed label list');
    if (t.kind === 'punct' && t.text === ')') return i + 1;
    if (t.kind !== 'ident' && t.kind !== 'string') throw new PromqlError(expr, t.pos, 'expected a label name in the list');
    i++;
    const sep = tokens[i];
    if (sep?.kind === 'punct' && sep.text === ',') i++;
    else if (!(sep?.kind === 'punct' && sep.text === ')')) throw new PromqlError(expr, sep?.pos ?? expr.length, 'expected , or ) in the label list');
  }
}

const isPunct = (t: Token | undefined, text: string) => t?.kind === 'punct' && t.text === text;

/** The distinct metric names `expr` selects, in order of appearance. */
export function metricNames(expr: string): string[] {
  const tokens = tokenize(expr);
  const names: string[] = [];
  let depth = 0;
  // Whether the last token ended an operand: two operands in a row lack an operator.
  let ended = false;
  const operand = (t: Token) => {
    if (ended) throw new PromqlError(expr, t.pos, 'two operands without an operator between them');
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const next = tokens[i + 1];
    if (t.kind === 'punct') {
      if (t.text === '(') {
        operand(t);
        depth++;
      } else if (t.text === ')') {
        if (--depth < 0) throw new PromqlError(expr, t.pos, 'unbalanced )');
        ended = true;
        continue;
      }
      ended = false;
      continue;
    }
    if (t.kind === 'selector') {
      // A selector right after a metric name narrows it; a bare one must name its metric.
      const prev = tokens[i - 1];
      const afterName = prev?.kind === 'ident' && ended;
      if (!afterName) operand(t);
      if (!afterName && t.names.length === 0) throw new PromqlError(expr, t.pos, 'a selector without a metric name reads every metric');
      for (const n of t.names) if (!names.includes(n)) names.push(n);
      ended = true;
      continue;
    }
    if (t.kind === 'range') {
      if (!ended) throw new PromqlError(expr, t.pos, 'a range after nothing it can apply to');
      continue;
    }
    if (t.kind === 'duration') {
      const prev = tokens[i - 1];
      const offset = (p: Token | undefined) => p?.kind === 'ident' && p.text.toLowerCase() === 'offset';
      if (!offset(prev) && !(isPunct(prev, '-') && offset(tokens[i - 2]))) throw new PromqlError(expr, t.pos, `a duration (${t.text}) outside a range or offset`);
      ended = true;
      continue;
    }
    if (t.kind === 'number' || t.kind === 'string') {
      operand(t);
      ended = true;
      continue;
    }
    const word = t.text.toLowerCase();
    if (LABEL_LISTS.has(word)) {
      // `sum by (x) (...)`, `sum(...) by (x)`, `a / on(x) group_left b`: the
      // list is no operand and leaves the state as it was.
      if (isPunct(next, '(')) i = skipLabelList(expr, tokens, i + 1) - 1;
      else if (word !== 'group_left' && word !== 'group_right') throw new PromqlError(expr, t.pos, `${t.text} needs a label list`);
      continue;
    }
    if (word === 'offset') {
      const d = isPunct(next, '-') ? tokens[i + 2] : next;
      if (!ended || d?.kind !== 'duration') throw new PromqlError(expr, t.pos, 'offset needs a selector before it and a duration after it');
      ended = false;
      continue;
    }
    if (KEYWORDS.has(word)) {
      ended = false;
      continue;
    }
    operand(t);
    if (NUMBER_WORDS.has(word)) {
      ended = true;
      continue;
    }
    if (AGGREGATIONS.has(t.text)) {
      if (!(isPunct(next, '(') || (next?.kind === 'ident' && ['by', 'without'].includes(next.text)))) {
        throw new PromqlError(expr, t.pos, `aggregation ${t.text} without its (...)`);
      }
      continue;
    }
    if (isPunct(next, '(')) {
      if (!FUNCTIONS.has(t.text)) throw new PromqlError(expr, t.pos, `unknown function ${t.text}`);
      continue;
    }
    if (!names.includes(t.text)) names.push(t.text);
    ended = true;
  }
  if (depth !== 0) throw new PromqlError(expr, expr.length, 'unclosed (');
  if (tokens.length && !ended) throw new PromqlError(expr, tokens[tokens.length - 1].pos, 'the expression ends without an operand');
  return names;
}
