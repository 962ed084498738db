/**
 * The registry of cross-resource rules. To add a rule: write `rules/<id>.ts` default-exporting
 * a `Rule`, import it here, add it to the list, and give it a firing and a silent test.
 */
import type { Rule } from './engine';

export const rules: Rule[] = [];
