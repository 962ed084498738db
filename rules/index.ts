/**
 * The registry of cross-resource rules. To add a rule: write `rules/<id>.ts` default-exporting
 * a `Rule`, import it here, add it to the list, and give it a firing and a silent test.
 */
import availability from './availability';
import capacity from './capacity';
import connectionBudget from './connection-budget';
import type { Rule } from './engine';
import firstSyncHealth from './first-sync-health';
import referenceIntegrity from './reference-integrity';
import scheduling from './scheduling';
import recoveryObjectives from './recovery-objectives';
import supplyChain from './supply-chain';
import volumeLimits from './volume-limits';

export const rules: Rule[] = [
  connectionBudget,
  scheduling,
  capacity,
  referenceIntegrity,
  availability,
  supplyChain,
  recoveryObjectives,
  firstSyncHealth,
  volumeLimits,
];
