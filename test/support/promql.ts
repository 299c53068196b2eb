import type { SyntaxNode, Tree } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';

/** One metric a query reads, with the labels its matchers name. */
export interface SelectorUse {
  readonly metric: string;
  readonly labels: readonly string[];
}

/** A `by (...)` grouping and the metrics under it: each label must be on at least one of them. */
export interface GroupingUse {
  readonly labels: readonly string[];
  readonly metrics: readonly string[];
}

export interface QueryUses {
  readonly selectors: SelectorUse[];
  readonly groupings: GroupingUse[];
}

/** Grafana's interval variables, replaced by values PromQL can parse. */
export function withoutGrafanaVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '1m').replaceAll('$__range', '1h');
}

/**
 * The metrics and labels a PromQL expression uses, read with Prometheus' own grammar
 * (@prometheus-io/lezer-promql, what the Prometheus UI parses with); throws on a syntax error.
 */
export function queryUses(expr: string): QueryUses {
  const tree = parser.parse(expr);
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) throw new Error(`not PromQL (at ${node.from}): ${expr}`);
    },
  });
  const text = (node: SyntaxNode) => expr.slice(node.from, node.to);
  const selectors = selectorsWithin(tree, 0, expr.length, text);
  const groupings: GroupingUse[] = [];
  tree.iterate({
    enter: (ref) => {
      if (ref.name !== 'AggregateExpr') return;
      const modifier = ref.node.getChild('AggregateModifier');
      if (!modifier?.getChild('By')) return;
      const labels = modifier.getChild('GroupingLabels')?.getChildren('LabelName').map(text) ?? [];
      const metrics = selectorsWithin(tree, ref.from, ref.to, text).map((use) => use.metric);
      groupings.push({ labels, metrics: [...new Set(metrics)] });
    },
  });
  return { selectors, groupings };
}

function selectorsWithin(tree: Tree, from: number, to: number, text: (node: SyntaxNode) => string): SelectorUse[] {
  const found: SelectorUse[] = [];
  tree.iterate({
    from,
    to,
    enter: (ref) => {
      if (ref.name !== 'VectorSelector' || ref.from < from || ref.to > to) return;
      const identifier = ref.node.getChild('Identifier');
      const matchers = ref.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? [];
      found.push({ metric: identifier ? text(identifier) : '', labels: matchers.map((matcher) => text(matcher.getChild('LabelName')!)) });
    },
  });
  return found;
}
