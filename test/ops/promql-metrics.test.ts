// The PromQL metric-name extractor the dashboard and alert checks rely on
// (test/support/promql-metrics.ts): what it finds, what it must not take for
// a metric, and what it refuses rather than guess.
import { metricNames } from '../support/promql-metrics';

describe('metricNames finds the metrics an expression selects', () => {
  test.each([
    ['a bare name', 'up', ['up']],
    ['a counter rate, Grafana range variable', 'sum by (type, outcome) (rate(cqrs_commands_total[$__rate_interval]))', ['cqrs_commands_total']],
    [
      'a quantile: le, job and the label values are not metrics',
      'histogram_quantile(0.99, sum by (le, job) (rate(cqrs_grpc_request_duration_seconds_bucket{job=~"command-svc|query-svc", le!="+Inf"}[5m])))',
      ['cqrs_grpc_request_duration_seconds_bucket'],
    ],
    ['grouping after the aggregation', 'sum(rate(x_total[5m])) without (instance, pod)', ['x_total']],
    ['vector matching and a bool comparison', 'a_total / on (job) group_left (consumer) b_seconds offset 5m > bool 3', ['a_total', 'b_seconds']],
    ['group_left without a list, set operators', 'max(a) and on() b unless c or ignoring(x) d * on(y) group_right e', ['a', 'b', 'c', 'd', 'e']],
    ['__name__ as a matcher', '{__name__="cqrs_queue_depth", queue="q"}', ['cqrs_queue_depth']],
    ['a quoted name (Prometheus 3)', '{"my.metric", job="x"}', ['my.metric']],
    ['string arguments are not metrics', 'label_replace(up, "dst", "$1", "src", "(.*)")', ['up']],
    ['a subquery', 'max_over_time(rate(x_total[1m])[10m:30s])', ['x_total']],
    ['Inf and NaN are numbers, a name repeats once', 'x > Inf or x < -NaN', ['x']],
    ['the selector keeps braces and commas inside strings', 'x{a="}, y", b=~"[0-9]+"} + y', ['x', 'y']],
    ['a comment', 'x # and not_a_metric\n+ y', ['x', 'y']],
    ['colons of recording rules', 'job:cqrs_commands:rate5m > 1', ['job:cqrs_commands:rate5m']],
    ['@ modifiers', 'x @ 1609746000 + y @ start()', ['x', 'y']],
    ['count_values and topk parameters', 'count_values("code", topk(3, x))', ['x']],
  ])('%s', (_what, expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });
});

describe('metricNames refuses what it cannot read', () => {
  test.each([
    ['an unknown function', 'rte(x[5m])', /unknown function rte/],
    ['an unterminated string', 'x{job="a}', /unterminated string/],
    ['a selector that reads every metric', '{job="x"}', /without a metric name/],
    ['a name matched by pattern', '{__name__=~"cqrs_.*"}', /__name__ matched by pattern/],
    ['an unclosed parenthesis', 'sum(rate(x[5m])', /unclosed \(/],
    ['an extra parenthesis', 'sum(x))', /unbalanced \)/],
    ['a stray character', 'x ~ y', /unexpected "~"/],
    ['two operands in a row', 'x y', /two operands/],
    ['a matcher without a value', 'x{job}', /without a matcher/],
    ['a range that is no duration', 'rate(x[five])', /not a range/],
    ['a duration where a number goes', 'x > 5m', /duration/],
    ['a Grafana variable outside a range', 'x > $threshold', /duration/],
    ['an aggregation without its parenthesis', 'sum x', /aggregation sum/],
    ['a dangling operator', 'x +', /ends without an operand/],
    ['a label list that is not one', 'sum by (a b) (x)', /label list/],
  ])('%s', (_what, expr, error) => {
    expect(() => metricNames(expr)).toThrow(error);
  });
});
