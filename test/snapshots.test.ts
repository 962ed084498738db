/**
 * Review aid: one snapshot per generated file, so a change shows up in review as a diff of
 * the resources it touches. Correctness is asserted by the focused tests beside this one.
 */
import { realTree } from './support/synth';

const tree = realTree();
const byFolder = new Map<string, string[]>();
for (const file of [...tree.keys()].sort()) {
  const folder = file.split('/')[0];
  byFolder.set(folder, [...(byFolder.get(folder) ?? []), file]);
}

describe.each([...byFolder.keys()])('dist/%s', (folder) => {
  test.each(byFolder.get(folder)!)('%s', (file) => {
    expect(tree.get(file)).toMatchSnapshot();
  });
});
