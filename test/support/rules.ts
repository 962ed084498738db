/** Helpers for the rule tests. */
import { findingLines, type Rule, type RuleContext } from '../../rules/engine';

/**
 * The reason part of a rule's error line (`rule: Kind/name: message`), without the file, field
 * and allowed value in front: what the rule-logic tests compare.
 */
export function reasonOf(line: string): string {
  const m = / \(([a-z]+(?:-[a-z]+)*: .*)\)$/.exec(line);
  return m ? m[1] : line;
}

/** Every finding's reason, one per finding (not grouped per field). */
export function reasons(rules: readonly Rule[], contexts: readonly RuleContext[]): string[] {
  return findingLines(rules, contexts).map(reasonOf);
}
